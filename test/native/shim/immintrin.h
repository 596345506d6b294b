// test/native/avx512-emulated.sh builds the AVX-512 kernels against SIMDe (header-only portable
// implementations of the x86 intrinsics) through this stand-in for <immintrin.h>, so their logic
// runs, slowly but exactly, on a CPU without AVX-512. Intrinsics SIMDe 0.7 lacks are defined
// below from their Intel definitions.
#pragma once
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#include <simde/x86/avx2.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#define __mmask16 simde__mmask16
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#define _MM_FROUND_TO_NEG_INF SIMDE_MM_FROUND_TO_NEG_INF
#endif

namespace pensieve_shim {
template <class To, class From>
inline To bits(const From& f) {
  static_assert(sizeof(To) == sizeof(From), "size");
  To t;
  std::memcpy(&t, &f, sizeof t);
  return t;
}
struct I32x16 { int32_t v[16]; };
struct U8x16 { uint8_t v[16]; };
struct I8x16 { int8_t v[16]; };
struct F32x16 { float v[16]; };
struct F32x8 { float v[8]; };
struct F64x8 { double v[8]; };
struct I32x8 { int32_t v[8]; };
struct U16x16 { uint16_t v[16]; };
struct U8x16Out { uint8_t v[16]; };
// Exact, subnormals included (vcvtph2ps does not flush them).
inline float half_to_float(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, f = h & 1023;
  float v = e == 0 ? std::ldexp(static_cast<float>(f), -24) : e == 31 ? (f ? NAN : INFINITY) : std::ldexp(static_cast<float>(1024 + f), e - 25);
  return s ? -v : v;
}
}  // namespace pensieve_shim

inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  using namespace pensieve_shim;
  I32x16 i = bits<I32x16>(a);
  F32x16 r;
  for (int k = 0; k < 16; ++k) r.v[k] = static_cast<float>(i.v[k]);
  return bits<__m512>(r);
}
inline __m512i _mm512_cvtepi8_epi32(__m128i a) {
  using namespace pensieve_shim;
  I8x16 i = bits<I8x16>(a);
  I32x16 r;
  for (int k = 0; k < 16; ++k) r.v[k] = i.v[k];
  return bits<__m512i>(r);
}
inline __m512i _mm512_cvtepu8_epi32(__m128i a) {
  using namespace pensieve_shim;
  U8x16 i = bits<U8x16>(a);
  I32x16 r;
  for (int k = 0; k < 16; ++k) r.v[k] = i.v[k];
  return bits<__m512i>(r);
}
inline __m512 _mm512_cvtph_ps(__m256i a) {
  using namespace pensieve_shim;
  U16x16 h = bits<U16x16>(a);
  F32x16 r;
  for (int k = 0; k < 16; ++k) r.v[k] = half_to_float(h.v[k]);
  return bits<__m512>(r);
}
inline __m128i _mm256_cvtepi32_epi8(__m256i a) {
  using namespace pensieve_shim;
  I32x8 i = bits<I32x8>(a);
  U8x16Out r = {};
  for (int k = 0; k < 8; ++k) r.v[k] = static_cast<uint8_t>(i.v[k]);
  return bits<__m128i>(r);
}
inline __m256i _mm512_cvtepi32_epi16(__m512i a) {
  using namespace pensieve_shim;
  I32x16 i = bits<I32x16>(a);
  U16x16 r;
  for (int k = 0; k < 16; ++k) r.v[k] = static_cast<uint16_t>(i.v[k]);
  return bits<__m256i>(r);
}
inline void _mm256_mask_storeu_epi16(void* p, simde__mmask16 m, __m256i a) {
  using namespace pensieve_shim;
  U16x16 v = bits<U16x16>(a);
  for (int k = 0; k < 16; ++k)
    if (m >> k & 1) std::memcpy(static_cast<char*>(p) + 2 * k, &v.v[k], 2);
}
inline __m512d _mm512_cvtps_pd(__m256 a) {
  using namespace pensieve_shim;
  F32x8 f = bits<F32x8>(a);
  F64x8 r;
  for (int k = 0; k < 8; ++k) r.v[k] = f.v[k];
  return bits<__m512d>(r);
}
inline __m256i _mm512_cvttpd_epi32(__m512d a) {
  using namespace pensieve_shim;
  F64x8 d = bits<F64x8>(a);
  I32x8 r;
  for (int k = 0; k < 8; ++k) r.v[k] = (d.v[k] > -2147483649.0 && d.v[k] < 2147483648.0) ? static_cast<int32_t>(d.v[k]) : INT32_MIN;
  return bits<__m256i>(r);
}
inline void _mm512_mask_storeu_ps(void* p, simde__mmask16 m, __m512 a) {
  using namespace pensieve_shim;
  F32x16 v = bits<F32x16>(a);
  for (int k = 0; k < 16; ++k)
    if (m >> k & 1) std::memcpy(static_cast<char*>(p) + 4 * k, &v.v[k], 4);
}
inline __m512 _mm512_maskz_loadu_ps(simde__mmask16 m, const void* p) {
  using namespace pensieve_shim;
  F32x16 v = {};
  for (int k = 0; k < 16; ++k)
    if (m >> k & 1) std::memcpy(&v.v[k], static_cast<const char*>(p) + 4 * k, 4);
  return bits<__m512>(v);
}
inline float _mm512_reduce_max_ps(__m512 a) {
  using namespace pensieve_shim;
  F32x16 v = bits<F32x16>(a);
  float m = v.v[0];
  for (int k = 1; k < 16; ++k) m = v.v[k] > m ? v.v[k] : m;
  return m;
}
