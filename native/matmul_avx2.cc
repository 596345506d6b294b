// AVX2 + FMA matmul kernels over the same packed layouts as AVX-512 (pack.h):
// a 16-row panel slice is two ymm. bf16 weights are widened to f32 with a
// shift (even k) and a mask (odd k) and multiplied with x pre-rounded to bf16:
// the same exact bf16×bf16 products as vdpbf16ps, summed in another order; q8_0 uses vpmaddubsw with the sign trick
// (|q_w| × sign(q_x, q_w): at most 128·127·2 per pair, no int16 saturation).
#include <immintrin.h>

#include <cstring>

#include "matmul.h"
#include "store_tile_avx2_inl.h"

#define PENSIEVE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace pensieve {

namespace {

using avx2::store_tile;

// Panel column k's 16 weights as f32, in two halves: f32 panels load them, f16 panels widen
// them with F16C.
PENSIEVE_AVX2 inline void weight_slice(const float* w, int64_t k, __m256* w0, __m256* w1) {
  *w0 = _mm256_load_ps(w + k * kPanelRows);
  *w1 = _mm256_load_ps(w + k * kPanelRows + 8);
}
PENSIEVE_AVX2 inline void weight_slice(const uint16_t* w, int64_t k, __m256* w0, __m256* w1) {
  *w0 = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(w + k * kPanelRows)));
  *w1 = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(w + k * kPanelRows + 8)));
}

// f32 and f16 panels ([cols][16], W the stored type): x stays f32, f32 accumulation.
template <class W>
struct FloatTile {
  template <int MR>
  PENSIEVE_AVX2 static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const W* w = reinterpret_cast<const W*>(a.w->panel(p));
    const float* x = static_cast<const float*>(a.x) + r * a.ldx;
    const int64_t K = a.w->cols, ldx = a.ldx;
    __m256 acc[2 * MR];
    for (int i = 0; i < 2 * MR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
      __m256 w0, w1;
      weight_slice(w, k, &w0, &w1);
      for (int i = 0; i < MR; ++i) {
        const __m256 xv = _mm256_broadcast_ss(x + i * ldx + k);
        acc[2 * i] = _mm256_fmadd_ps(w0, xv, acc[2 * i]);
        acc[2 * i + 1] = _mm256_fmadd_ps(w1, xv, acc[2 * i + 1]);
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

// One row (decode): eight independent accumulators, two k-steps at a time. With one row the
// two-FMA chains of the general tile leave it latency-bound at ~8 bytes a cycle, about what
// DRAM delivers per core, so its loads never ran ahead of memory; summed at the end.
PENSIEVE_AVX2 inline void bf16_row(const MatmulArgs& a, int64_t p, int64_t r) {
  const uint16_t* w = reinterpret_cast<const uint16_t*>(a.w->panel(p));
  const float* x = static_cast<const float*>(a.x) + r * a.ldx;
  const int64_t K2 = a.w->k_steps;
  const __m256i odd_mask = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
  __m256 acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
  auto step = [&](int64_t kk, int s) PENSIEVE_AVX2 {
    const __m256i p0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + kk * 2 * kPanelRows));
    const __m256i p1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + kk * 2 * kPanelRows + kPanelRows));
    const __m256 x0 = _mm256_broadcast_ss(x + 2 * kk), x1 = _mm256_broadcast_ss(x + 2 * kk + 1);
    acc[s + 0] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(p0, 16)), x0, acc[s + 0]);
    acc[s + 1] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(p0, odd_mask)), x1, acc[s + 1]);
    acc[s + 2] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(p1, 16)), x0, acc[s + 2]);
    acc[s + 3] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(p1, odd_mask)), x1, acc[s + 3]);
  };
  int64_t kk = 0;
  const char* pf = reinterpret_cast<const char*>(w) + kDecodePrefetch;
  for (; kk + 2 <= K2; kk += 2) {
    if (kDecodePrefetch > 0) {
      _mm_prefetch(pf + kk * 2 * kPanelRows * 2, _MM_HINT_T0);
      _mm_prefetch(pf + kk * 2 * kPanelRows * 2 + 64, _MM_HINT_T0);
    }
    step(kk, 0);
    step(kk + 1, 4);
  }
  if (kk < K2) step(kk, 0);
  const __m256 sum[2] = {_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[4], acc[5])),
                         _mm256_add_ps(_mm256_add_ps(acc[2], acc[3]), _mm256_add_ps(acc[6], acc[7]))};
  store_tile<1>(a, p, r, sum);
}

// x: bf16-rounded values as f32 [MR][2·k_steps].
struct Bf16Tile {
  template <int MR>
  PENSIEVE_AVX2 static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    if constexpr (MR == 1) {
      bf16_row(a, p, r);
      return;
    }
    const uint16_t* w = reinterpret_cast<const uint16_t*>(a.w->panel(p));
    const float* x = static_cast<const float*>(a.x) + r * a.ldx;
    const int64_t K2 = a.w->k_steps, ldx = a.ldx;
    const __m256i odd_mask = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
    __m256 acc[2 * MR];
    for (int i = 0; i < 2 * MR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t kk = 0; kk < K2; ++kk) {
      const __m256i p0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + kk * 2 * kPanelRows));
      const __m256i p1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + kk * 2 * kPanelRows + kPanelRows));
      const __m256 even0 = _mm256_castsi256_ps(_mm256_slli_epi32(p0, 16)), odd0 = _mm256_castsi256_ps(_mm256_and_si256(p0, odd_mask));
      const __m256 even1 = _mm256_castsi256_ps(_mm256_slli_epi32(p1, 16)), odd1 = _mm256_castsi256_ps(_mm256_and_si256(p1, odd_mask));
      for (int i = 0; i < MR; ++i) {
        const __m256 x0 = _mm256_broadcast_ss(x + i * ldx + 2 * kk), x1 = _mm256_broadcast_ss(x + i * ldx + 2 * kk + 1);
        acc[2 * i] = _mm256_fmadd_ps(odd0, x1, _mm256_fmadd_ps(even0, x0, acc[2 * i]));
        acc[2 * i + 1] = _mm256_fmadd_ps(odd1, x1, _mm256_fmadd_ps(even1, x0, acc[2 * i + 1]));
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

struct Q8Tile {
  template <int MR>
  PENSIEVE_AVX2 static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const uint8_t* panel = a.w->panel(p);
    const int8_t* xq = static_cast<const int8_t*>(a.x) + r * a.ldx;
    const int64_t nb = a.w->k_steps, ldx = a.ldx;
    const float* xd = a.xd + r * nb;
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2 * MR];
    for (int i = 0; i < 2 * MR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = panel + b * kQ8PanelBlockBytes;
      if constexpr (MR == 1) {
        if (kDecodePrefetch > 0)
          for (size_t o = 0; o < kQ8PanelBlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(blk + kDecodePrefetch + o), _MM_HINT_T0);
      }
      const uint8_t* q = blk + kQ8ScaleBytes;
      const __m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk)));
      const __m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 16)));
      __m256i dot[2 * MR];
      for (int i = 0; i < 2 * MR; ++i) dot[i] = _mm256_setzero_si256();
      for (int g = 0; g < kQ8Groups; ++g) {
        const __m256i w0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + g * 64)), bias);
        const __m256i w1 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + g * 64 + 32)), bias);
        const __m256i aw0 = _mm256_abs_epi8(w0), aw1 = _mm256_abs_epi8(w1);
        for (int i = 0; i < MR; ++i) {
          const __m256i xv = _mm256_set1_epi32(load_i32(xq + i * ldx + b * kQ8Block + g * 4));
          dot[2 * i] = _mm256_add_epi32(dot[2 * i], _mm256_madd_epi16(_mm256_maddubs_epi16(aw0, _mm256_sign_epi8(xv, w0)), ones));
          dot[2 * i + 1] = _mm256_add_epi32(dot[2 * i + 1], _mm256_madd_epi16(_mm256_maddubs_epi16(aw1, _mm256_sign_epi8(xv, w1)), ones));
        }
      }
      for (int i = 0; i < MR; ++i) {
        const __m256 dx = _mm256_set1_ps(xd[i * nb + b]);
        acc[2 * i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[2 * i]), _mm256_mul_ps(dw0, dx), acc[2 * i]);
        acc[2 * i + 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[2 * i + 1]), _mm256_mul_ps(dw1, dx), acc[2 * i + 1]);
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

}  // namespace

void matmul_f16_avx2(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<FloatTile<uint16_t>, kRowsAvx2>(a, p0, p1, r0, r1);
}

void matmul_f32_avx2(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<FloatTile<float>, kRowsAvx2>(a, p0, p1, r0, r1);
}

void matmul_bf16_avx2(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<Bf16Tile, kRowsAvx2>(a, p0, p1, r0, r1);
}

void matmul_q8_avx2(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<Q8Tile, kRowsAvx2Q8>(a, p0, p1, r0, r1);
}

// The scalar quantizer's arithmetic, 4 doubles at a time: identical results.
PENSIEVE_AVX2 void quantize_row_q8_avx2(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum) {
  const __m256d half = _mm256_set1_pd(0.5);
  const __m256d sign_bit = _mm256_set1_pd(-0.0);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < cols / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    __m256 m = _mm256_setzero_ps();
    for (int h = 0; h < 4; ++h) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(xb + 8 * h), abs_mask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float db = _mm_cvtss_f32(m4) / 127.0f;
    const __m256d id = _mm256_set1_pd(db != 0 ? 1.0 / static_cast<double>(db) : 0.0);
    __m128i qi[8];
    __m128i total = _mm_setzero_si128();
    for (int j = 0; j < 8; ++j) {
      const __m256d s = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(xb + 4 * j)), id);
      // |s| + 0.5 is exact, so floor of it is round-half-away of |s|; then restore the sign.
      const __m256d mag = _mm256_floor_pd(_mm256_add_pd(_mm256_andnot_pd(sign_bit, s), half));
      qi[j] = _mm256_cvttpd_epi32(_mm256_or_pd(mag, _mm256_and_pd(sign_bit, s)));
      total = _mm_add_epi32(total, qi[j]);
    }
    // Values are within [-127, 127], so the saturating packs are plain narrowing.
    const __m128i lo = _mm_packs_epi16(_mm_packs_epi32(qi[0], qi[1]), _mm_packs_epi32(qi[2], qi[3]));
    const __m128i hi = _mm_packs_epi16(_mm_packs_epi32(qi[4], qi[5]), _mm_packs_epi32(qi[6], qi[7]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * kQ8Block), lo);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * kQ8Block + 16), hi);
    total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 0x4e));
    total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 0xb1));
    d[b] = db;
    sum[b] = _mm_cvtsi128_si32(total);
  }
}

}  // namespace pensieve
