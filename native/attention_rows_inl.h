// The row tile kernel: a few query rows (a decode token's GQA group, or the last rows of a
// chunk) with head-dim elements in vector lanes. Included by attention_inl.h, so it is
// compiled once per ISA (isa_each.h); attention.cc plans which items it runs.
//
// Why a second kernel: the lane tiles of attention_inl.h put query rows in vector lanes and
// broadcast every K and V element. With 1-8 rows that idles lanes (a GQA group of 7 in an
// 8-lane tile, of 1 or 4 for MHA or Llama-style GQA) and, without AVX-512's embedded
// broadcasts, spends a broadcast instruction per multiply-add. Here K rows are loaded as
// vectors and multiplied into every row's query (QKᵀ: one load serves all rows, the scores
// summed across lanes once per row and key), and V rows are multiplied by each row's
// broadcast probability (PV: one broadcast serves a whole row of head-dim), so nearly every
// instruction is a full-width multiply-add. W is 8 on AVX-512 too: on Zen 4 a zmm FMA costs
// two ymm FMAs, and the W = 8 code is the code the AVX2 tests run.

constexpr int kRowsW = kLanes < 8 ? kLanes : 8;
constexpr int kRowsAhead = 2;                      // steps prefetched ahead (and at an item's start)
constexpr int kRowsRing = 4;                       // steps of K/V row offsets kept: > kRowsAhead
static_assert(kRowsKeys % 8 == 0, "scores are summed across lanes 8 keys at a time");

#if defined(__x86_64__) || defined(__i386__)
// out[i] = the sum of the 8 lanes of the vector at src + i·stride, for i < 8.
template <int W>
PENSIEVE_INLINE void sum_lanes8(const float* src, int stride, float* out) {
  static_assert(W == 8, "for 8-lane vectors");
  const __m256 t0 = _mm256_hadd_ps(_mm256_loadu_ps(src), _mm256_loadu_ps(src + stride));
  const __m256 t1 = _mm256_hadd_ps(_mm256_loadu_ps(src + 2 * stride), _mm256_loadu_ps(src + 3 * stride));
  const __m256 t2 = _mm256_hadd_ps(_mm256_loadu_ps(src + 4 * stride), _mm256_loadu_ps(src + 5 * stride));
  const __m256 t3 = _mm256_hadd_ps(_mm256_loadu_ps(src + 6 * stride), _mm256_loadu_ps(src + 7 * stride));
  // u0 = [Σ0..3 of vectors 0-3 | Σ4..7 of vectors 0-3], u1 likewise for vectors 4-7.
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
}

// out[i] = the max of the 8 lanes of the vector at src + 8·i, for i < 8: one transposing
// network for eight rows' maxima instead of eight dependent scalar chains.
PENSIEVE_INLINE void max_lanes8(const float* src, float* out) {
  const auto pair = [&](int i) {
    const __m256 a = _mm256_loadu_ps(src + 8 * i), b = _mm256_loadu_ps(src + 8 * i + 8);
    return _mm256_max_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
  };
  const __m256 t0 = pair(0), t1 = pair(2), t2 = pair(4), t3 = pair(6);
  const __m256 u0 = _mm256_max_ps(_mm256_shuffle_ps(t0, t1, 0x44), _mm256_shuffle_ps(t0, t1, 0xee));
  const __m256 u1 = _mm256_max_ps(_mm256_shuffle_ps(t2, t3, 0x44), _mm256_shuffle_ps(t2, t3, 0xee));
  _mm256_storeu_ps(out, _mm256_max_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
}
#endif

// The online softmax's two reductions per row, for all R rows of a step at once (R ≤ 8):
// mx[r] = max_j s[r][j] and, after the exponentials, sums[r] = Σ_j p[r][j]. The rows' lane
// vectors go through one 8×8 network (W = 8) rather than R dependent horizontal chains, which
// took ~11% of a 4K decode. `lanes` is [8][W] scratch.
template <int W, int R>
PENSIEVE_INLINE void row_maxima(const float* s, float* lanes, float* mx) {
  for (int r = 0; r < R; ++r) {
    const float* sr = s + r * kRowsKeys;
    vec::F<W> m = vec::load<W>(sr);
#pragma GCC unroll 8
    for (int j = W; j < kRowsKeys; j += W) m = vec::max<W>(m, vec::load<W>(sr + j));
    vec::store<W>(lanes + r * W, m);
  }
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (W == 8) {
    for (int r = R; r < 8; ++r) vec::store<W>(lanes + r * W, vec::splat<W>(-kInf));
    max_lanes8(lanes, mx);
    return;
  }
#endif
  for (int r = 0; r < R; ++r) {
    float m = lanes[r * W];
    for (int i = 1; i < W; ++i) m = std::max(m, lanes[r * W + i]);
    mx[r] = m;
  }
}
template <int W, int R>
PENSIEVE_INLINE void row_sums(float* lanes, float* sums) {
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (W == 8) {
    for (int r = R; r < 8; ++r) vec::store<W>(lanes + r * W, vec::splat<W>(0.0f));
    sum_lanes8<W>(lanes, W, sums);
    return;
  }
#endif
  for (int r = 0; r < R; ++r) sums[r] = vec::hsum<W>(vec::load<W>(lanes + r * W));
}

// Chunk c (W lanes) of a K or V row, as f32. Head-dim is cut into pairs of chunks (2·W
// elements); an f32 row's chunk c holds elements c·W + i. A bf16 row is read a pair at a time
// as W 32-bit lanes, each two bf16 values: the low halves shifted up are chunk 2p (the even
// elements of pair p), the high halves masked are chunk 2p + 1 (the odd ones), two integer
// operations for 2·W values and no widening pass. Queries and outputs use the same order
// (chunk_element), so the dot products and the output rows come out in the right places.
template <int W>
PENSIEVE_INLINE vec::F<W> load_chunk(const float* row, int c) { return vec::load<W>(row + c * W); }
template <int W>
PENSIEVE_INLINE vec::F<W> load_chunk(const uint16_t* row, int c) {
  using U = typename vec::Lanes<W>::U;
  U u;
  __builtin_memcpy(&u, row + (c & ~1) * W, sizeof u);
  u = (c & 1) ? (u & 0xffff0000u) : (u << 16);
  vec::F<W> f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

// The head-dim element that lane i of chunk c holds (see load_chunk).
template <int W, typename T>
constexpr int chunk_element(int c, int i) {
  return std::is_same<T, float>::value ? c * W + i : (c & ~1) * W + 2 * i + (c & 1);
}

// Register blocking. Loads, not multiply-adds, bound these loops (two vector loads a cycle
// on Zen 3), so each loaded vector should serve several multiply-adds:
//   QKᵀ: a group of RG rows × JK keys of accumulators, each K vector serving RG rows and each
//        query vector JK keys: JK·RG + JK + 1 registers.
//   PV:  RP rows × kPvChunks vectors of head-dim, each V vector serving RP rows:
//        RP·kPvChunks + kPvChunks + RP registers.
constexpr int kVecRegs = 2 * kAccumulators;  // the register file: 16 ymm, or 32 zmm/ymm with AVX-512
constexpr int kRowGroup = kVecRegs >= 32 ? 8 : 4;
constexpr int kPvChunks = 4;
constexpr int kPvRows = (kVecRegs - kPvChunks) / (kPvChunks + 1);

// Keeps v in a register from here on. GCC folds a vector's load into every multiply-add that
// uses it (a load per use), so a query vector meant to serve JK keys was loaded JK times and
// the loads, not the multiply-adds, bounded QKᵀ.
template <typename V>
PENSIEVE_INLINE void in_register(V& v) {
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (sizeof(V) >= 32) asm("" : "+x"(v));  // the scalar build (W = 1) has nothing to keep
#endif
}

// Scores of JK keys against rows [r0, r0 + RG) of R: acc[(jj·R + r)·W ..] = lanes whose sum is
// q_r · k_jj. The queries are interleaved by chunk ([D/W][R][W]).
template <int W, int R, int RG, int JK, typename T>
PENSIEVE_INLINE void rows_qk(const float* qs, int r0, int D, const T* const* kp, float* acc) {
  using V = vec::F<W>;
  V a[JK][RG];
  const T* k[JK];
#pragma GCC unroll 8
  for (int jj = 0; jj < JK; ++jj) k[jj] = kp[jj];
  qs += r0 * W;
  {
    V kv[JK];
#pragma GCC unroll 8
    for (int jj = 0; jj < JK; ++jj) kv[jj] = load_chunk<W>(k[jj], 0);
#pragma GCC unroll 8
    for (int rr = 0; rr < RG; ++rr) {
      const V q = vec::load<W>(qs + rr * W);
#pragma GCC unroll 8
      for (int jj = 0; jj < JK; ++jj) a[jj][rr] = kv[jj] * q;
    }
  }
  const auto chunk = [&](int c) __attribute__((always_inline)) {
    const float* qc = qs + c * R * W;
    V kv[JK];
#pragma GCC unroll 8
    for (int jj = 0; jj < JK; ++jj) kv[jj] = load_chunk<W>(k[jj], c);
#pragma GCC unroll 8
    for (int rr = 0; rr < RG; ++rr) {
      V q = vec::load<W>(qc + rr * W);
      in_register(q);
#pragma GCC unroll 8
      for (int jj = 0; jj < JK; ++jj) a[jj][rr] += kv[jj] * q;
    }
  };
  // Chunks go by pairs, so each one's half (even or odd elements of a bf16 pair) is known
  // at compile time; headDim is a multiple of 2·W for row tiles.
  chunk(1);
  for (int c = 2; c < D / W; c += 2) {
    chunk(c);
    chunk(c + 1);
  }
#pragma GCC unroll 8
  for (int jj = 0; jj < JK; ++jj)
#pragma GCC unroll 8
    for (int rr = 0; rr < RG; ++rr) vec::store<W>(acc + (jj * R + r0 + rr) * W, a[jj][rr]);
}

// Keys per rows_qk call for a group of rg rows: JK·rg accumulators, JK K vectors and the query
// vector in registers, plus, for bf16 K, the mask that takes a pair's high halves. One more
// and GCC keeps accumulators on the stack (4 of the 12 of a bf16 4-row group did).
template <typename T>
constexpr int qk_keys_per_call(int rg) {
  return std::min(8, (kVecRegs - 1 - (std::is_same<T, float>::value ? 0 : 1)) / (rg + 1));
}

// rows_qk over keys [0, n) for one row group (declared here, defined with the step loop below).
struct LineQueue;
template <int W, int R, int RG, typename T>
PENSIEVE_INLINE void rows_qk_keys(const float* qs, int r0, int D, const T* const* kp, int n, float* acc, LineQueue& pf, int quads);

// o_r[d0, d0 + DC·W) = o_r·alpha_r + Σ_j p_r[j]·v_j for RP rows (p_r at p + r·kRowsKeys): the
// accumulators stay in registers over the step's n keys, each V vector serving RP rows.
template <int W, int RP, int DC, typename T>
PENSIEVE_INLINE void rows_pv(float* o, int D, const float* p, const float* alpha, const T* const* vp, int n, int d0) {
  using V = vec::F<W>;
  V a[RP][DC];
#pragma GCC unroll 8
  for (int rp = 0; rp < RP; ++rp) {
    const V al = vec::splat<W>(alpha[rp]);
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) a[rp][c] = vec::load<W>(o + rp * D + d0 + c * W) * al;
  }
  for (int j = 0; j < n; ++j) {
    const T* v = vp[j] + d0;
    V vv[DC];
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) vv[c] = load_chunk<W>(v, c);
#pragma GCC unroll 8
    for (int rp = 0; rp < RP; ++rp) {
      const V b = vec::splat<W>(p[rp * kRowsKeys + j]);
#pragma GCC unroll 8
      for (int c = 0; c < DC; ++c) a[rp][c] += b * vv[c];
    }
  }
#pragma GCC unroll 8
  for (int rp = 0; rp < RP; ++rp)
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) vec::store<W>(o + rp * D + d0 + c * W, a[rp][c]);
}

// rows_pv over all of head-dim for RP rows: passes of kPvChunks vectors, then a last pair
// (passes start on pairs of chunks, see load_chunk).
template <int W, int RP, typename T>
PENSIEVE_INLINE void rows_pv_all(float* o, int D, const float* p, const float* alpha, const T* const* vp, int n) {
  static_assert(kPvChunks % 2 == 0, "passes must start on chunk pairs");
  int d0 = 0;
  for (; d0 + kPvChunks * W <= D; d0 += kPvChunks * W) rows_pv<W, RP, kPvChunks>(o, D, p, alpha, vp, n, d0);
  if (d0 + 2 * W <= D) rows_pv<W, RP, 2>(o, D, p, alpha, vp, n, d0);
}

#include "attention_rows_prefetch_inl.h"

// rows_qk over keys [0, n) for one row group, prefetching `quads` quads of lines after each call.
template <int W, int R, int RG, typename T>
PENSIEVE_INLINE void rows_qk_keys(const float* qs, int r0, int D, const T* const* kp, int n, float* acc, LineQueue& pf, int quads) {
  constexpr int JK = qk_keys_per_call<T>(RG);
  int j = 0;
  for (; j + JK <= n; j += JK) {
    rows_qk<W, R, RG, JK>(qs, r0, D, kp + j, acc + j * R * W);
    pf.issue(quads);
  }
  for (; j < n; ++j) rows_qk<W, R, RG, 1>(qs, r0, D, kp + j, acc + j * R * W);
}

// One row tile of R rows (R ≤ kMaxRowTile) over the item's key range, in steps of kRowsKeys
// keys: scores, the online-softmax update, then P·V. Scratch holds, in floats: qs [D/W][R][W]
// (queries by chunk), o [R][D] (outputs by chunk, see load_chunk), s [R][kRowsKeys] and
// acc [kRowsKeys][R][W] (the score lanes before their sums).
template <int W, int R, typename T>
void attend_rows(const Problem& P, const Item& it, const Item* next, const Partials& part, float* scratch) {
  using V = vec::F<W>;
  constexpr int KC = kRowsKeys;
  // At most two row groups for QKᵀ (R ≤ 8 ≤ 2·kRowGroup), as even as can be.
  constexpr int RG1 = R <= kRowGroup ? R : (R + 1) / 2, RG2 = R - RG1;
  constexpr int RP = std::min(R, kPvRows);
  constexpr int RA = (R + W - 1) / W * W;  // alpha padded to whole vectors
  const int D = P.head_dim, G = P.group;
  float* qs = scratch;
  float* o = qs + R * D;
  float* s = o + R * D;
  float* acc = s + R * KC;
  const T* kc = static_cast<const T*>(P.k_cache);
  const T* vc = static_cast<const T*>(P.v_cache);

  const int32_t t0 = P.q_indptr[it.r];
  const int32_t ctx = P.context_lens[it.r];
  int32_t lim[R], first[R];
  float* orow[R];
  int32_t min_limit = std::numeric_limits<int32_t>::max(), max_first = 0;
  for (int r = 0; r < R; ++r) {
    const int32_t i = it.row0 + r, t = t0 + i / G, h = it.g * G + i % G;
    const int64_t off = (static_cast<int64_t>(t) * P.num_heads + h) * D;
    const float* q = P.q + off;
    orow[r] = P.out + off;
    lim[r] = std::min(P.q_pos[t], ctx - 1);  // last visible position
    min_limit = std::min(min_limit, lim[r]);
    first[r] = first_visible(P, P.q_pos[t]);  // first visible position
    max_first = std::max(max_first, first[r]);
    for (int c = 0; c < D / W; ++c)
      for (int i = 0; i < W; ++i) qs[(c * R + r) * W + i] = q[chunk_element<W, T>(c, i)] * P.scale_log2;
  }
  std::fill(o, o + R * D, 0.0f);
  float m[R], l[R];
  alignas(64) float alpha[RA] = {};
  for (int r = 0; r < R; ++r) m[r] = -kInf, l[r] = 0.0f;

  // Each step's row offsets are computed once, when its lines are queued kRowsAhead steps
  // early (the first kRowsAhead steps' lines are requested at once: nothing to overlap yet),
  // and kept in a ring until the step runs. The last steps queue the next item's first lines.
  const int32_t steps = (it.key_end - it.key_begin + KC - 1) / KC;
  StepRows ring[kRowsRing];
  StepRows next_rows;
  LineQueue pf;
  const auto plan = [&](int32_t st) -> const StepRows& {
    const int32_t p0 = it.key_begin + st * KC;
    step_rows(P, it, p0, std::min<int32_t>(KC, it.key_end - p0), ring[st % kRowsRing]);
    return ring[st % kRowsRing];
  };
  for (int32_t st = 0; st < std::min(steps, kRowsAhead); ++st) {
    pf.load(P, plan(st));
    pf.issue_all();
  }
  // Prefetch sites in a step: each rows_qk call of both row groups, and each rows_pv row group.
  constexpr int kSites = (KC + qk_keys_per_call<T>(RG1) - 1) / qk_keys_per_call<T>(RG1) +
                         (RG2 > 0 ? (KC + qk_keys_per_call<T>(RG2) - 1) / qk_keys_per_call<T>(RG2) : 0) + (R + RP - 1) / RP;

  const T* kp[KC];
  const T* vp[KC];
  for (int32_t st = 0; st < steps; ++st) {
    const int32_t ahead = st + kRowsAhead;
    if (ahead < steps) {
      pf.load(P, plan(ahead));
    } else if (next && next->key_begin + (ahead - steps) * KC < next->key_end) {
      const int32_t p0 = next->key_begin + (ahead - steps) * KC;
      step_rows(P, *next, p0, std::min<int32_t>(KC, next->key_end - p0), next_rows);
      pf.load(P, next_rows);
    } else {
      pf.ranges = 0;
    }
    const int quads = pf.share(kSites);
    const int32_t p0 = it.key_begin + st * KC;
    const int n = std::min<int32_t>(KC, it.key_end - p0);
    const int64_t* off = ring[st % kRowsRing].off;
    for (int j = 0; j < n; ++j) {
      kp[j] = kc + off[j];
      vp[j] = vc + off[j];
    }
    // Scores, in base 2 (the queries carry scale·log2 e): s[r][j] = q_r · k_j. Lane sums
    // go 8 keys at a time; those past n are stale and masked below.
    rows_qk_keys<W, R, RG1>(qs, 0, D, kp, n, acc, pf, quads);
    if constexpr (RG2 > 0) rows_qk_keys<W, R, RG2>(qs, RG1, D, kp, n, acc, pf, quads);
    if constexpr (W == 1) {
      for (int j = 0; j < n; ++j)
        for (int r = 0; r < R; ++r) s[r * KC + j] = acc[j * R + r];
    } else {
#if defined(__x86_64__) || defined(__i386__)
      for (int j = 0; j < n; j += 8)
        for (int r = 0; r < R; ++r) sum_lanes8<W>(acc + (j * R + r) * W, R * W, s + r * KC + j);
#endif
    }
    if (P.softcap_log2 > 0.0f) {
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < KC; j += W) vec::store<W>(s + r * KC + j, softcap<W>(vec::load<W>(s + r * KC + j), P.softcap_log2));
    }
    // Mask keys past the range, past each row's position and before its window, only where
    // some row needs it.
    if (n < KC || p0 + KC - 1 > min_limit || p0 < max_first) {
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < KC; ++j)
          if (j >= n || p0 + j > lim[r] || p0 + j < first[r]) s[r * KC + j] = -kInf;
    }

    // Online softmax per row: new running max, the rescale of what came before, and the
    // step's probabilities (over the scores). A row that has seen nothing yet keeps max -inf
    // and takes exp2 against 0, so its probabilities are 0, not NaN.
    alignas(64) float lanes[8 * W], mt[8], psum[8];
    row_maxima<W, R>(s, lanes, mt);
    for (int r = 0; r < R; ++r) {
      float* sr = s + r * KC;
      const float m_new = std::max(m[r], mt[r]);
      const float m_use = m_new == -kInf ? 0.0f : m_new;
      alpha[r] = m[r] - m_use;  // exponentiated below, all rows at once
      const V mv = vec::splat<W>(m_use);
      V sum = vec::splat<W>(0.0f);
#pragma GCC unroll 8
      for (int j = 0; j < KC; j += W) {
        const V e = vec::exp2<W>(vec::load<W>(sr + j) - mv);
        vec::store<W>(sr + j, e);
        sum += e;
      }
      vec::store<W>(lanes + r * W, sum);
      m[r] = m_new;
    }
    row_sums<W, R>(lanes, psum);
    for (int r = R; r < RA; ++r) alpha[r] = 0.0f;  // padding lanes: keep them finite
#pragma GCC unroll 8
    for (int r = 0; r < RA; r += W) vec::store<W>(alpha + r, vec::exp2<W>(vec::load<W>(alpha + r)));
    for (int r = 0; r < R; ++r) l[r] = l[r] * alpha[r] + psum[r];

    // Output: o_r = o_r·alpha_r + Σ_j p_r[j]·v_j.
    int r = 0;
    for (; r + RP <= R; r += RP) {
      pf.issue(quads);
      rows_pv_all<W, RP>(o + r * D, D, s + r * KC, alpha + r, vp, n);
    }
    for (; r < R; ++r) {
      pf.issue(quads);
      rows_pv_all<W, 1>(o + r * D, D, s + r * KC, alpha + r, vp, n);
    }
    pf.issue_all();
  }

  for (int r = 0; r < R; ++r) {
    // A row with no visible position (context length 0) gets zeros.
    const float scale = it.partial >= 0 ? 1.0f : l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    float* out = it.partial >= 0 ? part.o + (it.partial + r) * D : orow[r];
    for (int c = 0; c < D / W; ++c)
      for (int i = 0; i < W; ++i) out[chunk_element<W, T>(c, i)] = o[r * D + c * W + i] * scale;
    if (it.partial >= 0) {
      part.m[it.partial + r] = m[r];
      part.l[it.partial + r] = l[r];
    }
  }
}
