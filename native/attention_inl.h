// The attention tile kernel, compiled once per ISA by isa_each.h (see
// attention.cc for the algorithm and the types it shares with this file).

// Makes the compiler materialize p in a register, so that p[0..C) are
// addressed with immediate displacements; otherwise GCC keeps the row base and
// C separate index registers live, spilling them in the inner loops.
PENSIEVE_INLINE void pin_pointer(const float*& p) { asm("" : "+r"(p)); }

// Output rows of a tile, C elements of d at a time: acc[d][lane] =
// acc[d][lane]·alpha[lane] + Σ_j p[j][lane]·v_j[d], so each v_j row pointer
// serves C broadcasts and the C·NV accumulators stay in registers.
template <int W, int NV, int C>
PENSIEVE_INLINE void accumulate_pv(float* acc, const float* p, const float* const* vp, const vec::F<W>* alpha, int d0) {
  using V = vec::F<W>;
  constexpr int L = W * NV;
  V o[C][NV];
#pragma GCC unroll 16
  for (int dd = 0; dd < C; ++dd)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) o[dd][v] = vec::load<W>(acc + (d0 + dd) * L + v * W) * alpha[v];
  for (int j = 0; j < kKeyStep; ++j) {
    V pj[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) pj[v] = vec::load<W>(p + j * L + v * W);
    const float* vr = vp[j] + d0;
    pin_pointer(vr);
#pragma GCC unroll 16
    for (int dd = 0; dd < C; ++dd) {
      const V b = vec::splat<W>(vr[dd]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) o[dd][v] += b * pj[v];
    }
  }
#pragma GCC unroll 16
  for (int dd = 0; dd < C; ++dd)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) vec::store<W>(acc + (d0 + dd) * L + v * W, o[dd][v]);
}

// Scores of JC key rows against a tile, C head-dim elements at a time:
// a[jj][lane] += Σ_dd q[d0+dd][lane]·k_jj[d0+dd]. The C query vectors are
// loaded once and serve all JC rows; each row's pointer is loaded once and
// serves C broadcasts (immediate displacements), keeping the JC·NV
// accumulators and C·NV query vectors in registers.
template <int W, int NV, int JC, int C>
PENSIEVE_INLINE void accumulate_qk(vec::F<W> (&a)[JC][NV], const float* qt, const float* const* kp, int d0) {
  using V = vec::F<W>;
  constexpr int L = W * NV;
  V qv[C][NV];
#pragma GCC unroll 16
  for (int dd = 0; dd < C; ++dd)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) qv[dd][v] = vec::load<W>(qt + (d0 + dd) * L + v * W);
#pragma GCC unroll 16
  for (int jj = 0; jj < JC; ++jj) {
    const float* kr = kp[jj] + d0;
    pin_pointer(kr);
#pragma GCC unroll 16
    for (int dd = 0; dd < C; ++dd) {
      const V b = vec::splat<W>(kr[dd]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) a[jj][v] += b * qv[dd][v];
    }
  }
}

// Gemma 2's attention-logit soft-cap on base-2 scores: cap·tanh(x / cap), cap = softcap·log2 e,
// with tanh(z) = 1 − 2/(1 + e^{2z}) (exp2 saturates at ±127, so large |z| gives ±1, not NaN;
// near 0 the absolute error is a few ulp of cap, as good as the scores).
template <int W>
PENSIEVE_INLINE vec::F<W> softcap(const vec::F<W>& x, float cap) {
  const vec::F<W> e = vec::exp2<W>(x * (2.0f * kLog2e / cap));
  return cap - (2.0f * cap) / (e + 1.0f);
}

constexpr int kPrefetchSteps = 3;
constexpr int32_t kBurstSteps = 8;

// out[0, n) = the bf16 values in[0, n), widened to f32 (exact: a bf16 is an f32's top half).
PENSIEVE_INLINE void widen_bf16(const uint16_t* in, int n, float* out) {
  constexpr int W = kLanes;
  int i = 0;
  for (; i + W <= n; i += W) vec::store<W>(out + i, vec::load_bf16<W>(in + i));
  for (; i < n; ++i) out[i] = vec::load_bf16<1>(in + i)[0];
}

// Pool offsets (in elements) of item `it`'s K/V rows for key positions [p0, p0 + n): one
// division, then walk the request's block table.
PENSIEVE_INLINE void kv_row_offsets(const Problem& P, const Item& it, int32_t p0, int n, int64_t* off) {
  const int D = P.head_dim;
  const int32_t* table = P.tables + P.table_indptr[it.r];
  const int64_t block_stride = static_cast<int64_t>(P.num_kv_heads) * P.block_size * D;
  const int64_t head_off = static_cast<int64_t>(it.g) * P.block_size * D;
  int32_t block = p0 / P.block_size, o = p0 % P.block_size;
  for (int j = 0; j < n; ++j) {
    off[j] = table[block] * block_stride + head_off + static_cast<int64_t>(o) * D;
    if (++o == P.block_size) o = 0, ++block;
  }
}

// Prefetches into L2 the K/V rows of step `step` (16 key positions from it.key_begin) of an item.
// K/V rows sit in scattered blocks, each head's rows of a block on its own 4 KiB page, which
// the hardware prefetchers do not cross; prefetcht1 measured 19 GB/s on one core for this
// pattern, against 12 with prefetcht0 and 10 with none. Inline on purpose: GCC deems a helper
// whose only effect is a prefetch side-effect free and deletes the call unless it is inlined.
PENSIEVE_INLINE void prefetch_step(const Problem& P, const Item& it, int32_t step) {
  const int32_t p0 = it.key_begin + step * kKeyStep;
  const int n = std::max<int32_t>(0, std::min<int32_t>(kKeyStep, it.key_end - p0));
  if (n == 0) return;
  int64_t offsets[kKeyStep];
  kv_row_offsets(P, it, p0, n, offsets);
  const size_t elem = P.kv_bf16 ? sizeof(uint16_t) : sizeof(float);
  const size_t row_bytes = static_cast<size_t>(P.head_dim) * elem;
  for (int j = 0; j < n; ++j) {
    const char* k = static_cast<const char*>(P.k_cache) + offsets[j] * elem;
    const char* v = static_cast<const char*>(P.v_cache) + offsets[j] * elem;
    for (size_t b = 0; b < row_bytes; b += 64) {
      __builtin_prefetch(k + b, 0, 2);
      __builtin_prefetch(v + b, 0, 2);
    }
    __builtin_prefetch(k + row_bytes - 1, 0, 2);
    __builtin_prefetch(v + row_bytes - 1, 0, 2);
  }
}

// One tile: L = W·NV query rows in NV vectors of W lanes. `next` (or null) is the item this
// thread runs after this one: once this item's own rows are all fetched, the prefetch stream
// runs on into the next item's first steps, so short items (decode over a short context) do
// not start with a burst of demand misses.
template <int W, int NV>
PENSIEVE_INLINE void attend_tile(const Problem& P, const Item& it, const Item* next, const Partials& part, float* scratch) {
  using V = vec::F<W>;
  constexpr int L = W * NV;
  // Register blocking (see accumulate_qk / accumulate_pv): score blocks of JC
  // key rows × DQ head-dim elements, output blocks of DC head-dim elements.
  constexpr int JC = std::min(8, kAccumulators / NV);
  constexpr int DQ = std::max(1, kAccumulators / (2 * NV));
  constexpr int DC = kAccumulators / NV;
  const int D = P.head_dim, G = P.group;
  float* qt = scratch;        // [D][L] queries, transposed and pre-scaled
  float* acc = qt + D * L;    // [D][L] unnormalized output, transposed
  float* s = acc + D * L;     // [kKeyStep][L] scores, then probabilities
  float* kw = s + kKeyStep * L;  // bf16 pools: [kKeyStep][D] this step's K rows, widened to f32
  float* vw = kw + kKeyStep * D;  // and V rows

  const int32_t t0 = P.q_indptr[it.r];
  const int32_t ctx = P.context_lens[it.r];
  alignas(64) float lim[L];
  alignas(64) float first[L];
  const float* qrow[L];
  float* orow[L];
  int32_t min_limit = std::numeric_limits<int32_t>::max();
  int32_t max_first = 0;
  for (int lane = 0; lane < L; ++lane) {
    if (lane < it.rows) {
      const int32_t i = it.row0 + lane, t = t0 + i / G, h = it.g * G + i % G;
      const int64_t off = (static_cast<int64_t>(t) * P.num_heads + h) * D;
      qrow[lane] = P.q + off;
      orow[lane] = P.out + off;
      const int32_t limit = std::min(P.q_pos[t], ctx - 1);  // last visible position
      lim[lane] = static_cast<float>(limit);
      min_limit = std::min(min_limit, limit);
      first[lane] = static_cast<float>(first_visible(P, P.q_pos[t]));  // first visible position
      max_first = std::max(max_first, first_visible(P, P.q_pos[t]));
    } else {
      qrow[lane] = nullptr;
      orow[lane] = nullptr;
      lim[lane] = -1.0f;  // padding lanes see nothing
      first[lane] = 0.0f;
    }
  }
  for (int d = 0; d < D; ++d)
    for (int lane = 0; lane < L; ++lane) qt[d * L + lane] = qrow[lane] ? qrow[lane][d] * P.scale_log2 : 0.0f;
  std::fill(acc, acc + static_cast<size_t>(D) * L, 0.0f);

  V limit_v[NV], first_v[NV], m[NV], l[NV];
  for (int v = 0; v < NV; ++v) {
    limit_v[v] = vec::load<W>(lim + v * W);
    first_v[v] = vec::load<W>(first + v * W);
    m[v] = vec::splat<W>(-kInf);
    l[v] = vec::splat<W>(0.0f);
  }

  const int32_t steps = (it.key_end - it.key_begin + kKeyStep - 1) / kKeyStep;
  int64_t offsets[kKeyStep];
  const float* kp[kKeyStep];
  const float* vp[kKeyStep];

  // A short item (decode over a short context, every layer's K/V cold after the weights went
  // through the caches) is latency-bound: request its first steps all at once.
  for (int32_t st = 0; st < std::min(steps, kBurstSteps); ++st) prefetch_step(P, it, st);
  for (int32_t p0 = it.key_begin; p0 < it.key_end; p0 += kKeyStep) {
    const int32_t step = (p0 - it.key_begin) / kKeyStep + kPrefetchSteps;
    if (step < steps) prefetch_step(P, it, step);
    else if (next) prefetch_step(P, *next, step - steps);

    const int n = std::min<int32_t>(kKeyStep, it.key_end - p0);
    kv_row_offsets(P, it, p0, n, offsets);
    if (P.kv_bf16) {
      const uint16_t* kc = static_cast<const uint16_t*>(P.k_cache);
      const uint16_t* vc = static_cast<const uint16_t*>(P.v_cache);
      for (int j = 0; j < n; ++j) {
        widen_bf16(kc + offsets[j], D, kw + j * D);
        widen_bf16(vc + offsets[j], D, vw + j * D);
        kp[j] = kw + j * D;
        vp[j] = vw + j * D;
      }
    } else {
      for (int j = 0; j < n; ++j) {
        kp[j] = static_cast<const float*>(P.k_cache) + offsets[j];
        vp[j] = static_cast<const float*>(P.v_cache) + offsets[j];
      }
    }
    // Past the range end: point at a valid row; the mask zeroes its weight.
    for (int j = n; j < kKeyStep; ++j) {
      kp[j] = kp[0];
      vp[j] = vp[0];
    }

    // Scores: s[j][lane] = Σ_d q[lane][d]·k_j[d].
    // Not unrolled: two blocks' accumulators at once would spill.
#pragma GCC unroll 1
    for (int j0 = 0; j0 < kKeyStep; j0 += JC) {
      V a[JC][NV];
#pragma GCC unroll 16
      for (int jj = 0; jj < JC; ++jj)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) a[jj][v] = vec::splat<W>(0.0f);
      int d = 0;
      for (; d + DQ <= D; d += DQ) accumulate_qk<W, NV, JC, DQ>(a, qt, kp + j0, d);
      for (; d < D; ++d) accumulate_qk<W, NV, JC, 1>(a, qt, kp + j0, d);
#pragma GCC unroll 16
      for (int jj = 0; jj < JC; ++jj)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) vec::store<W>(s + (j0 + jj) * L + v * W, a[jj][v]);
    }

    if (P.softcap_log2 > 0.0f) {
      for (int j = 0; j < kKeyStep; ++j)
        for (int v = 0; v < NV; ++v) vec::store<W>(s + j * L + v * W, softcap<W>(vec::load<W>(s + j * L + v * W), P.softcap_log2));
    }

    // Causal mask by position (and the padding past the range end), only on steps
    // that reach past some row's last visible position or before its window.
    if (n < kKeyStep || p0 + kKeyStep - 1 > min_limit || p0 < max_first) {
      for (int j = 0; j < kKeyStep; ++j) {
        const V kpos = vec::splat<W>(j < n ? static_cast<float>(p0 + j) : kInf);
        for (int v = 0; v < NV; ++v) {
          const V x = vec::load<W>(s + j * L + v * W);
          vec::store<W>(s + j * L + v * W, (kpos <= limit_v[v]) & (kpos >= first_v[v]) ? x : vec::splat<W>(-kInf));
        }
      }
    }

    // Online softmax: new running max, rescale factor for what came before, and
    // the step's probabilities (overwriting the scores). A row that has seen
    // nothing yet keeps max -inf; exp2 is taken against 0 so it stays 0, not NaN.
    V alpha[NV];
    for (int v = 0; v < NV; ++v) {
      V mt = vec::load<W>(s + v * W);
      for (int j = 1; j < kKeyStep; ++j) mt = vec::max<W>(mt, vec::load<W>(s + j * L + v * W));
      const V m_new = vec::max<W>(m[v], mt);
      const V m_use = m_new == vec::splat<W>(-kInf) ? vec::splat<W>(0.0f) : m_new;
      alpha[v] = vec::exp2<W>(m[v] - m_use);
      V sum = vec::splat<W>(0.0f);
      for (int j = 0; j < kKeyStep; ++j) {
        const V e = vec::exp2<W>(vec::load<W>(s + j * L + v * W) - m_use);
        vec::store<W>(s + j * L + v * W, e);
        sum += e;
      }
      l[v] = l[v] * alpha[v] + sum;
      m[v] = m_new;
    }

    int d0 = 0;
    for (; d0 + DC <= D; d0 += DC) accumulate_pv<W, NV, DC>(acc, s, vp, alpha, d0);
    for (; d0 < D; ++d0) accumulate_pv<W, NV, 1>(acc, s, vp, alpha, d0);
  }

  alignas(64) float mf[L], lf[L];
  for (int v = 0; v < NV; ++v) {
    vec::store<W>(mf + v * W, m[v]);
    vec::store<W>(lf + v * W, l[v]);
  }
  for (int lane = 0; lane < it.rows; ++lane) {
    if (it.partial < 0) {
      // A row with no visible position (context length 0) gets zeros.
      const float inv = lf[lane] > 0.0f ? 1.0f / lf[lane] : 0.0f;
      for (int d = 0; d < D; ++d) orow[lane][d] = acc[d * L + lane] * inv;
    } else {
      const int64_t row = it.partial + lane;
      for (int d = 0; d < D; ++d) part.o[row * D + d] = acc[d * L + lane];
      part.m[row] = mf[lane];
      part.l[row] = lf[lane];
    }
  }
}

#include "attention_rows_inl.h"

// Tile shapes by lane count, ascending; Item::kernel indexes them. AVX-512
// also has an 8-lane (ymm) shape: a decode step's GQA group is often ≤ 8 rows
// (7 for Qwen2.5), a 16-lane tile would idle half its lanes, and Zen 4 issues
// two ymm FMAs in the time of one zmm FMA.
constexpr TileShapes kShapes = kLanes == 16 ? TileShapes{3, {8, 16, 32}}
                               : kLanes == 8 ? TileShapes{2, {8, 16, 0}}
                                             : TileShapes{2, {1, 4, 0}};

// A row tile of it.rows rows (≤ kMaxRowTile) over f32 or bf16 pools.
template <typename T>
void attend_rows_any(const Problem& P, const Item& it, const Item* next, const Partials& part, float* scratch) {
  constexpr int W = kRowsW;
  switch (it.rows) {
    case 1: attend_rows<W, 1, T>(P, it, next, part, scratch); break;
    case 2: attend_rows<W, 2, T>(P, it, next, part, scratch); break;
    case 3: attend_rows<W, 3, T>(P, it, next, part, scratch); break;
    case 4: attend_rows<W, 4, T>(P, it, next, part, scratch); break;
    case 5: attend_rows<W, 5, T>(P, it, next, part, scratch); break;
    case 6: attend_rows<W, 6, T>(P, it, next, part, scratch); break;
    case 7: attend_rows<W, 7, T>(P, it, next, part, scratch); break;
    default: attend_rows<W, 8, T>(P, it, next, part, scratch); break;
  }
}

PENSIEVE_INLINE void attend(const Problem& P, const Item& it, const Item* next, const Partials& part, float* scratch) {
  if (it.kernel == kRowTileKernel) {
    if (P.kv_bf16) attend_rows_any<uint16_t>(P, it, next, part, scratch);
    else attend_rows_any<float>(P, it, next, part, scratch);
    return;
  }
  if constexpr (kLanes == 16) {
    switch (it.kernel) {
      case 0: attend_tile<8, 1>(P, it, next, part, scratch); break;
      case 1: attend_tile<16, 1>(P, it, next, part, scratch); break;
      default: attend_tile<16, 2>(P, it, next, part, scratch); break;
    }
  } else if constexpr (kLanes == 8) {
    if (it.kernel == 0) attend_tile<8, 1>(P, it, next, part, scratch);
    else attend_tile<8, 2>(P, it, next, part, scratch);
  } else {
    if (it.kernel == 0) attend_tile<1, 1>(P, it, next, part, scratch);
    else attend_tile<1, 4>(P, it, next, part, scratch);
  }
}

// Each pool thread claims items in list order (sorted by falling cost) until
// none are left: item costs vary with the causal mask and the context lengths,
// so a static split would leave a core idle. A thread claims its next item
// before it runs the current one, so it can prefetch the next item's K/V.
void claim_items(const Problem& P, const std::vector<Item>& items, std::atomic<size_t>& next, const Partials& part) {
  const size_t D = static_cast<size_t>(P.head_dim);
  const size_t lane_tile = 2 * D * kMaxLanes + kKeyStep * kMaxLanes + 2 * kKeyStep * D;
  const size_t row_tile = 2 * kMaxRowTile * D + kMaxRowTile * kRowsKeys + kRowsKeys * kMaxRowTile * kRowsW;
  std::vector<float> scratch(std::max(lane_tile, row_tile));
  // An item is claimed only when this thread is ready to run it. The next unclaimed one is only
  // peeked at, for attend() to prefetch its first lines near the end of this one (another thread
  // may run it; its first lines are then fetched twice). Claiming it ahead, as this loop once did,
  // gave a decode token's two items (one per KV head, ≤ 512 keys: not split) both to the first
  // thread to arrive, so short-context decode attention ran on one thread.
  for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < items.size(); i = next.fetch_add(1, std::memory_order_relaxed)) {
    const size_t peek = next.load(std::memory_order_relaxed);
    attend(P, items[i], peek < items.size() ? &items[peek] : nullptr, part, scratch.data());
  }
}

const AttentionIsa kAttentionIsa{kShapes, 2 * kRowsW, claim_items};
const AttentionIsa& attention_isa() { return kAttentionIsa; }
