// The AVX2 decoding of qlayout.h's packed steps, shared by the row-tile kernels
// (qmatmul_avx2.cc: decode inside the dot loop, for decode and m = 2) and the
// prefill GEMM (qgemm_avx2.cc: decode a panel once, then reuse it for every row).
#pragma once

#include <immintrin.h>

#include "qlayout.h"

#define PENSIEVE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace pensieve {
namespace avx2q {

template <int From, int To>
PENSIEVE_AVX2 PENSIEVE_Q_INLINE __m256i move_bits(__m256i v) {
  if constexpr (To > From) return _mm256_slli_epi16(v, To - From);
  else if constexpr (To < From) return _mm256_srli_epi16(v, From - To);
  else return v;
}

// Group G of rows 8h..8h+7 (the half at byte offset 32h of each 64-byte plane chunk).
template <QType T, int G>
PENSIEVE_AVX2 PENSIEVE_Q_INLINE __m256i decode_group(const uint8_t* blk, __m256i table) {
  constexpr QLayout L = qlayout(T);
  __m256i w = _mm256_setzero_si256();
  if constexpr (L.n4) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + L.n4_offset() + (G % 4) * 64));
    w = _mm256_and_si256(G < 4 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
    if constexpr (L.table) w = _mm256_shuffle_epi8(table, w);
  }
  if constexpr (L.p2) {
    const __m256i v = move_bits<2 * (G % 4), L.p2_shift>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + L.p2_offset() + (G / 4) * 64)));
    w = _mm256_or_si256(w, _mm256_and_si256(v, _mm256_set1_epi8(static_cast<char>(3 << L.p2_shift))));
  }
  if constexpr (L.h1) {
    const __m256i v = move_bits<G, L.h1_shift>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + L.h1_offset())));
    w = _mm256_or_si256(w, _mm256_and_si256(v, _mm256_set1_epi8(static_cast<char>(1 << L.h1_shift))));
  }
  return w;
}

PENSIEVE_AVX2 PENSIEVE_Q_INLINE __m256 cvt_u8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
PENSIEVE_AVX2 PENSIEVE_Q_INLINE __m256 cvt_i8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Sub-block `sub`'s s and mv for rows 8h..8h+7 (d, m: those rows' f16 scales as f32).
template <QType T>
PENSIEVE_AVX2 PENSIEVE_Q_INLINE void sub_scales(const uint8_t* step, int h, __m256 d, __m256 m, int sub, __m256* s, __m256* mv) {
  constexpr QLayout L = qlayout(T);
  const uint8_t* subs = step + L.sub_offset() + 8 * h;
  if constexpr (T == QType::Q4_K || T == QType::Q5_K) {
    *s = _mm256_mul_ps(d, cvt_u8(subs + 16 * sub));
    *mv = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(m, cvt_u8(subs + 16 * (8 + sub))));
  } else if constexpr (T == QType::Q2_K) {
    const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(subs + 16 * sub)));
    *s = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b, _mm256_set1_epi32(15))));
    *mv = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(m, _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4))));
  } else if constexpr (L.subs > 0) {
    *s = _mm256_mul_ps(d, cvt_i8(subs + 16 * sub));
  } else {
    *s = d;
    if constexpr (L.has_min) *mv = m;
  }
}

// How many 4-k groups of vpmaddubsw pair sums add up in int16 before one vpmaddwd must widen
// them: each pair sum is at most 2·max u·127 in magnitude, so 8 for u < 16 (q4_*, q2_K, q3_K),
// 4 for q5_* (u < 32), 2 for q6_K (u < 64), 1 for the codebook types (|w| ≤ 127 under the sign
// trick).
template <QType T>
struct Int16Groups {
  static constexpr QLayout L = qlayout(T);
  static constexpr int kMaxU = L.table ? 127 : (1 << ((L.n4 ? 4 : L.p2 ? 2 : 0) + (L.p2 && L.n4 ? 2 : 0) + (L.h1 ? 1 : 0))) - 1;
  static constexpr int kFit = 32767 / (2 * kMaxU * 127);
  static constexpr int value = kFit >= 8 ? 8 : kFit >= 4 ? 4 : kFit >= 2 ? 2 : 1;
  static_assert(value * 2 * kMaxU * 127 <= 32767, "int16 pair sums must not saturate");
};

}  // namespace avx2q
}  // namespace pensieve
