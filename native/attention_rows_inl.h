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
constexpr int kRegBudget = 2 * kAccumulators - 2;  // vector registers for accumulators
constexpr int kRowsAhead = 4;                      // steps prefetched ahead (and at an item's start)
constexpr int kRowsRing = 8;                       // steps of K/V row offsets kept: > kRowsAhead
static_assert(kRowsKeys % 8 == 0, "scores are summed across lanes 8 keys at a time");

// A power of two ≤ x (x ≥ 1), at most 8.
constexpr int pow2_floor8(int x) { return x >= 8 ? 8 : x >= 4 ? 4 : x >= 2 ? 2 : 1; }

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
#endif

// The K/V pool's element type: f32, or bf16 bits widened on load.
template <int W>
PENSIEVE_INLINE vec::F<W> load_kv(const float* p) { return vec::load<W>(p); }
template <int W>
PENSIEVE_INLINE vec::F<W> load_kv(const uint16_t* p) { return vec::load_bf16<W>(p); }

// Scores of JK keys against R rows: acc[jj·R + r] = lanes whose sum is q_r · k_jj. The
// queries are interleaved by chunk ([D/W][R][W]), so a chunk's R vectors sit at immediate
// displacements from one pointer and feed the multiply-adds as memory operands.
template <int W, int R, int JK, typename T>
PENSIEVE_INLINE void rows_qk(const float* qs, int D, const T* const* kp, float* acc_out) {
  using V = vec::F<W>;
  V a[JK][R];
#pragma GCC unroll 8
  for (int jj = 0; jj < JK; ++jj)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) a[jj][r] = vec::splat<W>(0.0f);
  const T* k[JK];
#pragma GCC unroll 8
  for (int jj = 0; jj < JK; ++jj) k[jj] = kp[jj];
  for (int c = 0; c < D; c += W, qs += R * W) {
#pragma GCC unroll 8
    for (int jj = 0; jj < JK; ++jj) {
      const V kv = load_kv<W>(k[jj] + c);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) a[jj][r] += kv * vec::load<W>(qs + r * W);
    }
  }
#pragma GCC unroll 8
  for (int jj = 0; jj < JK; ++jj)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) vec::store<W>(acc_out + (jj * R + r) * W, a[jj][r]);
}

// o_r[d0, d0 + DC·W) = o_r·alpha_r + Σ_j p_r[j]·v_j, for RP rows: the accumulators stay in
// registers over the step's n keys, each V vector serving RP rows.
template <int W, int RP, int DC>
PENSIEVE_INLINE void rows_pv(float* o, int D, const float* p, const float* alpha, const float* const* vp, int n, int d0) {
  using V = vec::F<W>;
  V a[RP][DC];
#pragma GCC unroll 8
  for (int rp = 0; rp < RP; ++rp) {
    const V al = vec::splat<W>(alpha[rp]);
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) a[rp][c] = vec::load<W>(o + rp * D + d0 + c * W) * al;
  }
  for (int j = 0; j < n; ++j) {
    const float* v = vp[j] + d0;
    pin_pointer(v);
#pragma GCC unroll 8
    for (int rp = 0; rp < RP; ++rp) {
      const V b = vec::splat<W>(p[rp * kRowsKeys + j]);
#pragma GCC unroll 8
      for (int c = 0; c < DC; ++c) a[rp][c] += b * vec::load<W>(v + c * W);
    }
  }
#pragma GCC unroll 8
  for (int rp = 0; rp < RP; ++rp)
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) vec::store<W>(o + rp * D + d0 + c * W, a[rp][c]);
}

// rows_pv over all of head-dim for RP rows: passes of 8 vectors, then the remainder.
template <int W, int RP>
PENSIEVE_INLINE void rows_pv_all(float* o, int D, const float* p, const float* alpha, const float* const* vp, int n) {
  int d0 = 0;
  for (; d0 + 8 * W <= D; d0 += 8 * W) rows_pv<W, RP, 8>(o, D, p, alpha, vp, n, d0);
  if (d0 + 4 * W <= D) rows_pv<W, RP, 4>(o, D, p, alpha, vp, n, d0), d0 += 4 * W;
  if (d0 + 2 * W <= D) rows_pv<W, RP, 2>(o, D, p, alpha, vp, n, d0), d0 += 2 * W;
  if (d0 + W <= D) rows_pv<W, RP, 1>(o, D, p, alpha, vp, n, d0);
}

// Prefetches into L2 the K and V rows at the n pool offsets `off` (elements): runs of rows
// that are adjacent in the pool (the rows of one block) as one range of cache lines.
PENSIEVE_INLINE void prefetch_rows(const Problem& P, const int64_t* off, int n) {
  const int D = P.head_dim;
  const size_t elem = P.kv_bf16 ? sizeof(uint16_t) : sizeof(float);
  const char* kc = static_cast<const char*>(P.k_cache);
  const char* vc = static_cast<const char*>(P.v_cache);
  for (int j = 0; j < n;) {
    int e = j + 1;
    while (e < n && off[e] == off[e - 1] + D) ++e;
    const size_t begin = static_cast<size_t>(off[j]) * elem, bytes = static_cast<size_t>(e - j) * D * elem;
    for (const char* base : {kc, vc}) {
      const uintptr_t first = reinterpret_cast<uintptr_t>(base + begin) & ~uintptr_t{63};
      const uintptr_t last = reinterpret_cast<uintptr_t>(base + begin + bytes - 1);
      for (uintptr_t a = first; a <= last; a += 64) __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 2);
    }
    j = e;
  }
}

// Prefetches item it's key positions [p0, p0 + n) ∩ its range.
PENSIEVE_INLINE void prefetch_keys(const Problem& P, const Item& it, int32_t p0, int n) {
  n = std::max<int32_t>(0, std::min<int32_t>(n, it.key_end - p0));
  if (n == 0) return;
  int64_t off[kRowsKeys];
  kv_row_offsets(P, it, p0, n, off);
  prefetch_rows(P, off, n);
}

// One row tile of R rows (R ≤ kMaxRowTile) over the item's key range, in steps of kRowsKeys
// keys: scores, the online-softmax update, then P·V. Scratch holds, in floats: qs [D][R]
// (interleaved by chunk), o [R][D], s [R][kRowsKeys], acc [kRowsKeys][R][W], and for bf16
// pools vw [kRowsKeys][D] (the step's V rows, widened once for all R rows).
template <int W, int R, typename T>
void attend_rows(const Problem& P, const Item& it, const Item* next, const Partials& part, float* scratch) {
  using V = vec::F<W>;
  constexpr int KC = kRowsKeys;
  // Keys per rows_qk call: JK·R accumulators and a K vector fit the registers.
  constexpr int JK = pow2_floor8(std::max(1, kRegBudget / R));
  // Rows per rows_pv call: RP·8 accumulators and RP broadcasts.
  constexpr int RP = std::max(1, std::min(R, kRegBudget / 9));
  constexpr int RA = (R + W - 1) / W * W;  // alpha padded to whole vectors
  const int D = P.head_dim, G = P.group;
  float* qs = scratch;
  float* o = qs + R * D;
  float* s = o + R * D;
  float* acc = s + R * KC;
  float* vw = acc + KC * R * W;
  const T* kc = static_cast<const T*>(P.k_cache);
  const T* vc = static_cast<const T*>(P.v_cache);

  const int32_t t0 = P.q_indptr[it.r];
  const int32_t ctx = P.context_lens[it.r];
  int32_t lim[R];
  float* orow[R];
  int32_t min_limit = std::numeric_limits<int32_t>::max();
  for (int r = 0; r < R; ++r) {
    const int32_t i = it.row0 + r, t = t0 + i / G, h = it.g * G + i % G;
    const int64_t off = (static_cast<int64_t>(t) * P.num_heads + h) * D;
    const float* q = P.q + off;
    orow[r] = P.out + off;
    lim[r] = std::min(P.q_pos[t], ctx - 1);  // last visible position
    min_limit = std::min(min_limit, lim[r]);
    for (int d = 0; d < D; ++d) qs[(d / W) * R * W + r * W + d % W] = q[d] * P.scale_log2;
  }
  std::fill(o, o + R * D, 0.0f);
  float m[R], l[R];
  alignas(64) float alpha[RA] = {};
  for (int r = 0; r < R; ++r) m[r] = -kInf, l[r] = 0.0f;

  // Each step's row offsets are computed once, when the step is prefetched kRowsAhead steps
  // early, and kept in a ring until the step runs.
  const int32_t steps = (it.key_end - it.key_begin + KC - 1) / KC;
  int64_t ring[kRowsRing][KC];
  const auto plan = [&](int32_t st) {
    const int32_t p0 = it.key_begin + st * KC;
    const int n = std::min<int32_t>(KC, it.key_end - p0);
    kv_row_offsets(P, it, p0, n, ring[st % kRowsRing]);
    prefetch_rows(P, ring[st % kRowsRing], n);
  };
  for (int32_t st = 0; st < std::min(steps, kRowsAhead); ++st) plan(st);

  const T* kp[KC];
  const float* vp[KC];
  for (int32_t st = 0; st < steps; ++st) {
    if (st + kRowsAhead < steps) plan(st + kRowsAhead);
    else if (next) prefetch_keys(P, *next, next->key_begin + (st + kRowsAhead - steps) * KC, KC);
    const int32_t p0 = it.key_begin + st * KC;
    const int n = std::min<int32_t>(KC, it.key_end - p0);
    const int64_t* off = ring[st % kRowsRing];
    for (int j = 0; j < n; ++j) {
      kp[j] = kc + off[j];
      if constexpr (std::is_same<T, float>::value) {
        vp[j] = vc + off[j];
      } else {
        widen_bf16(vc + off[j], D, vw + j * D);
        vp[j] = vw + j * D;
      }
    }
    // Keys past the range end read row 0 again; the mask below drops their scores.
    const int n_qk = (n + JK - 1) / JK * JK;
    for (int j = n; j < n_qk; ++j) kp[j] = kp[0];

    // Scores, in base 2 (the queries carry scale·log2 e): s[r][j] = q_r · k_j.
    for (int j = 0; j < n_qk; j += JK) rows_qk<W, R, JK>(qs, D, kp + j, acc + j * R * W);
    if constexpr (W == 1) {
      for (int j = 0; j < n_qk; ++j)
        for (int r = 0; r < R; ++r) s[r * KC + j] = acc[j * R + r];
    } else {
#if defined(__x86_64__) || defined(__i386__)
      for (int j = 0; j < n_qk; j += 8)
        for (int r = 0; r < R; ++r) sum_lanes8<W>(acc + (j * R + r) * W, R * W, s + r * KC + j);
#endif
    }
    // Mask keys past the range and past each row's position, only where some row needs it.
    if (n < KC || p0 + KC - 1 > min_limit) {
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < KC; ++j)
          if (j >= n || p0 + j > lim[r]) s[r * KC + j] = -kInf;
    }

    // Online softmax per row: new running max, the rescale of what came before, and the
    // step's probabilities (over the scores). A row that has seen nothing yet keeps max -inf
    // and takes exp2 against 0, so its probabilities are 0, not NaN.
    float psum[R];
    for (int r = 0; r < R; ++r) {
      float* sr = s + r * KC;
      V mx = vec::load<W>(sr);
#pragma GCC unroll 8
      for (int j = W; j < KC; j += W) mx = vec::max<W>(mx, vec::load<W>(sr + j));
      float mt = mx[0];
      for (int i = 1; i < W; ++i) mt = std::max(mt, mx[i]);
      const float m_new = std::max(m[r], mt);
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
      psum[r] = vec::hsum<W>(sum);
      m[r] = m_new;
    }
    for (int r = R; r < RA; ++r) alpha[r] = 0.0f;  // padding lanes: keep them finite
#pragma GCC unroll 8
    for (int r = 0; r < RA; r += W) vec::store<W>(alpha + r, vec::exp2<W>(vec::load<W>(alpha + r)));
    for (int r = 0; r < R; ++r) l[r] = l[r] * alpha[r] + psum[r];

    // Output: o_r = o_r·alpha_r + Σ_j p_r[j]·v_j.
    int r = 0;
    for (; r + RP <= R; r += RP) rows_pv_all<W, RP>(o + r * D, D, s + r * KC, alpha + r, vp, n);
    for (; r < R; ++r) rows_pv_all<W, 1>(o + r * D, D, s + r * KC, alpha + r, vp, n);
  }

  for (int r = 0; r < R; ++r) {
    if (it.partial < 0) {
      // A row with no visible position (context length 0) gets zeros.
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      for (int d = 0; d < D; ++d) orow[r][d] = o[r * D + d] * inv;
    } else {
      const int64_t row = it.partial + r;
      std::copy(o + r * D, o + (r + 1) * D, part.o + row * D);
      part.m[row] = m[r];
      part.l[row] = l[r];
    }
  }
}
