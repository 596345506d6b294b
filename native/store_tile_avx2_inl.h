// How the AVX2 matmul tiles (matmul_avx2.cc, qmatmul_avx2.cc, qgemm_avx2.cc) write their
// accumulators: rows [r, r + MR) × panel p's 16 outputs, plus the bias.
#pragma once

#include <immintrin.h>

#include "matmul.h"

namespace pensieve {
namespace avx2 {

// acc[2·i + h] holds outputs 8h..8h+7 of row i. The accumulators leave registers all at once,
// into tmp, before anything else reads them: when they were read row by row (a vector store per
// row, or a scalar loop over `valid`), GCC kept the whole array in memory and stored it on every
// k-step of the caller's loop, which halved the speed of the prefill tiles.
template <int MR>
__attribute__((target("avx2,fma,f16c"))) inline void store_tile(const MatmulArgs& a, int64_t p, int64_t r, const __m256* acc) {
  alignas(32) float tmp[MR][kPanelRows];
#pragma GCC unroll 16
  for (int i = 0; i < 2 * MR; ++i) _mm256_store_ps(tmp[i / 2] + 8 * (i % 2), acc[i]);
  const int valid = a.w->valid_rows(p);
  const float* bias = a.bias ? a.bias + p * kPanelRows : nullptr;
  int64_t ld;
  float* out = a.out_at(p, r, &ld);
  if (valid == kPanelRows) {
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int i = 0; i < MR; ++i) {
      _mm256_storeu_ps(out + i * ld, _mm256_add_ps(_mm256_load_ps(tmp[i]), b0));
      _mm256_storeu_ps(out + i * ld + 8, _mm256_add_ps(_mm256_load_ps(tmp[i] + 8), b1));
    }
    return;
  }
  for (int i = 0; i < MR; ++i)
    for (int l = 0; l < valid; ++l) out[i * ld + l] = tmp[i][l] + (bias ? bias[l] : 0.0f);
}

}  // namespace avx2
}  // namespace pensieve
