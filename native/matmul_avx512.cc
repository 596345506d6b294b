// AVX-512 matmul kernels: one zmm holds a k-slice of a 16-row panel (pack.h),
// a broadcast activation feeds all 16 outputs, and up to 8 rows of x share
// each weight load. f32 uses FMA, bf16 vdpbf16ps, q8_0 vpdpbusd. Compiled
// for these ISAs per function (target attributes), never for the whole
// build: the driver only calls them after checking the CPU.
// GCC 12's AVX-512 headers seed results with _mm512_undefined_*(), which its
// -Wmaybe-uninitialized misreports at every inlined use (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstring>

#include "matmul.h"

// Overridable so test/native/avx512-emulated.sh can build these kernels for a CPU without AVX-512.
#ifndef PENSIEVE_AVX512
#define PENSIEVE_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))
#endif
#ifndef PENSIEVE_AVX512_BF16
#define PENSIEVE_AVX512_BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))
#endif
#ifndef PENSIEVE_AVX512_VNNI
#define PENSIEVE_AVX512_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#endif

namespace pensieve {

namespace {

template <int MR>
PENSIEVE_AVX512 inline void store_tile(const MatmulArgs& a, int64_t p, int64_t r, const __m512* acc) {
  const __mmask16 mask = static_cast<__mmask16>((1u << a.w->valid_rows(p)) - 1u);
  const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(mask, a.bias + p * kPanelRows) : _mm512_setzero_ps();
  int64_t ld;
  float* out = a.out_at(p, r, &ld);
  for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(out + i * ld, mask, _mm512_add_ps(acc[i], bias));
}

// Panel column k's 16 weights as f32: f32 panels load them, f16 panels widen them (vcvtph2ps).
PENSIEVE_AVX512 inline __m512 weight_slice(const float* w, int64_t k) {
  return _mm512_load_ps(w + k * kPanelRows);
}
PENSIEVE_AVX512 inline __m512 weight_slice(const uint16_t* w, int64_t k) {
  return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(w + k * kPanelRows)));
}

// f32 and f16 panels ([cols][16], W the stored type): x stays f32, f32 accumulation.
template <class W>
struct FloatTile {
  template <int MR>
  PENSIEVE_AVX512 static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const W* w = reinterpret_cast<const W*>(a.w->panel(p));
    const float* x = static_cast<const float*>(a.x) + r * a.ldx;
    const int64_t K = a.w->cols, ldx = a.ldx;
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    if constexpr (MR == 1) {
      // One row has one dependency chain; four partial sums hide FMA latency.
      __m512 acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
      int64_t k = 0;
      for (; k + 4 <= K; k += 4) {
        acc[0] = _mm512_fmadd_ps(weight_slice(w, k + 0), _mm512_set1_ps(x[k + 0]), acc[0]);
        acc1 = _mm512_fmadd_ps(weight_slice(w, k + 1), _mm512_set1_ps(x[k + 1]), acc1);
        acc2 = _mm512_fmadd_ps(weight_slice(w, k + 2), _mm512_set1_ps(x[k + 2]), acc2);
        acc3 = _mm512_fmadd_ps(weight_slice(w, k + 3), _mm512_set1_ps(x[k + 3]), acc3);
      }
      for (; k < K; ++k) acc[0] = _mm512_fmadd_ps(weight_slice(w, k), _mm512_set1_ps(x[k]), acc[0]);
      acc[0] = _mm512_add_ps(_mm512_add_ps(acc[0], acc1), _mm512_add_ps(acc2, acc3));
    } else {
      for (int64_t k = 0; k < K; ++k) {
        const __m512 wk = weight_slice(w, k);
        for (int i = 0; i < MR; ++i) acc[i] = _mm512_fmadd_ps(wk, _mm512_set1_ps(x[i * ldx + k]), acc[i]);
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

// x: bf16 bits [MR][2·k_steps]; a broadcast 32-bit pair (x[2kk], x[2kk+1])
// meets the 16 rows' pairs of the same k in one vdpbf16ps.
struct Bf16Tile {
  template <int MR>
  PENSIEVE_AVX512_BF16 static void run(const MatmulArgs& a, int64_t p, int64_t r, const PanelPrefetch& pf) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(a.w->panel(p));
    const uint16_t* x = static_cast<const uint16_t*>(a.x) + r * a.ldx;
    const int64_t K2 = a.w->k_steps, ldx = a.ldx;
    constexpr int kStep = 2 * kPanelRows;  // bf16 values per k-pair slice
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    // One k-step of the panel is one 64-byte line (16 rows × a bf16 pair).
    const char* next = reinterpret_cast<const char*>(pf.next);
    int64_t next_pf = next ? pf.phase : K2;
    if constexpr (MR == 1) {
      // GEMV (or a one-row tail tile, whose share of the prefetch is left to the hardware).
      __m512 acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
      int64_t kk = 0;
      const char* pf = reinterpret_cast<const char*>(w) + kDecodePrefetch;
      for (; kk + 4 <= K2; kk += 4) {
        if (kDecodePrefetch > 0)
          for (int l = 0; l < 4; ++l) _mm_prefetch(pf + (kk + l) * 64, _MM_HINT_T0);
        acc[0] = _mm512_dpbf16_ps(acc[0], (__m512bh)_mm512_load_si512(w + (kk + 0) * kStep), (__m512bh)_mm512_set1_epi32(load_i32(x + 2 * kk + 0)));
        acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_load_si512(w + (kk + 1) * kStep), (__m512bh)_mm512_set1_epi32(load_i32(x + 2 * kk + 2)));
        acc2 = _mm512_dpbf16_ps(acc2, (__m512bh)_mm512_load_si512(w + (kk + 2) * kStep), (__m512bh)_mm512_set1_epi32(load_i32(x + 2 * kk + 4)));
        acc3 = _mm512_dpbf16_ps(acc3, (__m512bh)_mm512_load_si512(w + (kk + 3) * kStep), (__m512bh)_mm512_set1_epi32(load_i32(x + 2 * kk + 6)));
      }
      for (; kk < K2; ++kk) {
        acc[0] = _mm512_dpbf16_ps(acc[0], (__m512bh)_mm512_load_si512(w + kk * kStep), (__m512bh)_mm512_set1_epi32(load_i32(x + 2 * kk)));
      }
      acc[0] = _mm512_add_ps(_mm512_add_ps(acc[0], acc1), _mm512_add_ps(acc2, acc3));
    } else {
      for (int64_t kk = 0; kk < K2; ++kk) {
        if (kk == next_pf) {
          _mm_prefetch(next + kk * 64, _MM_HINT_T0);
          next_pf += pf.period;
        }
        const __m512bh wk = (__m512bh)_mm512_load_si512(w + kk * kStep);
        for (int i = 0; i < MR; ++i) {
          acc[i] = _mm512_dpbf16_ps(acc[i], wk, (__m512bh)_mm512_set1_epi32(load_i32(x + i * ldx + 2 * kk)));
        }
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

// Per 32-block: 8 vpdpbusd of (q_w+128) × q_x into exact int32 sums, minus
// 128·Σq_x, then scaled by d_w·d_x into the f32 accumulator.
struct Q8Tile {
  template <int MR>
  PENSIEVE_AVX512_VNNI static void run(const MatmulArgs& a, int64_t p, int64_t r, const PanelPrefetch& pf) {
    const uint8_t* panel = a.w->panel(p);
    const int8_t* xq = static_cast<const int8_t*>(a.x) + r * a.ldx;
    const int64_t nb = a.w->k_steps, ldx = a.ldx;
    const float* xd = a.xd + r * nb;
    const int32_t* xsum = a.xsum + r * nb;
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    const char* next = reinterpret_cast<const char*>(pf.next);
    int64_t next_pf = next ? pf.phase : nb;
    for (int64_t b = 0; b < nb; ++b) {
      if (b == next_pf) {
        const char* nb_ = next + b * kQ8PanelBlockBytes;
        for (size_t o = 0; o < kQ8PanelBlockBytes; o += 64) _mm_prefetch(nb_ + o, _MM_HINT_T0);
        _mm_prefetch(nb_ + kQ8PanelBlockBytes - 1, _MM_HINT_T0);
        next_pf += pf.period;
      }
      const uint8_t* blk = panel + b * kQ8PanelBlockBytes;
      const uint8_t* q = blk + kQ8ScaleBytes;
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
      __m512i dot[MR];
      for (int i = 0; i < MR; ++i) dot[i] = _mm512_setzero_si512();
      if constexpr (MR == 1) {
        if (kDecodePrefetch > 0)
          for (size_t o = 0; o < kQ8PanelBlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(blk + kDecodePrefetch + o), _MM_HINT_T0);
        // Two chains instead of eight dependent vpdpbusd per block.
        __m512i dot1 = _mm512_setzero_si512();
        const int8_t* xb = xq + b * kQ8Block;
        for (int g = 0; g < kQ8Groups; g += 2) {
          dot[0] = _mm512_dpbusd_epi32(dot[0], _mm512_loadu_si512(q + g * 64), _mm512_set1_epi32(load_i32(xb + g * 4)));
          dot1 = _mm512_dpbusd_epi32(dot1, _mm512_loadu_si512(q + (g + 1) * 64), _mm512_set1_epi32(load_i32(xb + (g + 1) * 4)));
        }
        dot[0] = _mm512_add_epi32(dot[0], dot1);
      } else {
        for (int g = 0; g < kQ8Groups; ++g) {
          const __m512i wg = _mm512_loadu_si512(q + g * 64);
          for (int i = 0; i < MR; ++i) {
            dot[i] = _mm512_dpbusd_epi32(dot[i], wg, _mm512_set1_epi32(load_i32(xq + i * ldx + b * kQ8Block + g * 4)));
          }
        }
      }
      for (int i = 0; i < MR; ++i) {
        const __m512i exact = _mm512_sub_epi32(dot[i], _mm512_set1_epi32(128 * xsum[i * nb + b]));
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(dw, _mm512_set1_ps(xd[i * nb + b])), acc[i]);
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

}  // namespace

void matmul_f16_avx512(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<FloatTile<uint16_t>, kRowsAvx512>(a, p0, p1, r0, r1);
}

void matmul_f32_avx512(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<FloatTile<float>, kRowsAvx512>(a, p0, p1, r0, r1);
}

void matmul_bf16_avx512(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile_prefetch<Bf16Tile, kRowsAvx512>(a, p0, p1, r0, r1);
}

void matmul_q8_avx512(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile_prefetch<Q8Tile, kRowsAvx512>(a, p0, p1, r0, r1);
}

// The scalar quantizer's arithmetic, 8 doubles at a time: identical results.
PENSIEVE_AVX512 void quantize_row_q8_avx512(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum) {
  const __m512d half = _mm512_set1_pd(0.5);
  const __m512d sign_bit = _mm512_set1_pd(-0.0);
  for (int64_t b = 0; b < cols / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float db = amax / 127.0f;
    const __m512d id = _mm512_set1_pd(db != 0 ? 1.0 / static_cast<double>(db) : 0.0);
    __m256i total = _mm256_setzero_si256();
    for (int h = 0; h < 4; ++h) {
      const __m512d s = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xb + 8 * h)), id);
      // |s| + 0.5 is exact, so floor of it is round-half-away of |s|; then restore the sign.
      const __m512d mag = _mm512_roundscale_pd(_mm512_add_pd(_mm512_andnot_pd(sign_bit, s), half), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
      const __m256i qi = _mm512_cvttpd_epi32(_mm512_or_pd(mag, _mm512_and_pd(sign_bit, s)));
      total = _mm256_add_epi32(total, qi);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + b * kQ8Block + 8 * h), _mm256_cvtepi32_epi8(qi));
    }
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    d[b] = db;
    sum[b] = _mm_cvtsi128_si32(t);
  }
}

// Round to nearest even on the bits, as f32_to_bf16 does (vcvtneps2bf16 would
// flush subnormals), with NaN kept NaN.
PENSIEVE_AVX512 void round_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
  const __m512i round = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
  int64_t i = 0;
  for (; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i hi = _mm512_srli_epi32(bits, 16);
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(round, _mm512_and_si512(hi, one))), 16);
    rounded = _mm512_mask_mov_epi32(rounded, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_or_si512(hi, quiet));
    _mm256_mask_storeu_epi16(out + i, mask, _mm512_cvtepi32_epi16(rounded));
  }
}

}  // namespace pensieve
