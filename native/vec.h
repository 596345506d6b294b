// Width-generic float vectors (GCC vector extensions), W lanes: 16 = zmm,
// 8 = ymm, 1 = scalar. No include guard: isa_each.h includes this inside each
// ISA's namespace and target pragma, so every copy is compiled (and lowered to
// instructions) for its own ISA.

namespace vec {

template <int W>
struct Lanes {
  typedef float F __attribute__((vector_size(W * sizeof(float))));
  typedef int32_t I __attribute__((vector_size(W * sizeof(int32_t))));
  typedef uint16_t H __attribute__((vector_size(W * sizeof(uint16_t))));
  typedef uint32_t U __attribute__((vector_size(W * sizeof(uint32_t))));
};
template <int W> using F = typename Lanes<W>::F;
template <int W> using I = typename Lanes<W>::I;

// Unaligned loads and stores: memcpy compiles to one vmovups and sidesteps
// aliasing rules between float and vector types.
template <int W>
PENSIEVE_INLINE F<W> load(const float* p) {
  F<W> v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

template <int W>
PENSIEVE_INLINE void store(float* p, const F<W>& v) {
  __builtin_memcpy(p, &v, sizeof v);
}

// W bf16 values (raw bits) widened to f32: the bits become the top half of each float.
template <int W>
PENSIEVE_INLINE F<W> load_bf16(const uint16_t* p) {
  using H = typename Lanes<W>::H;
  using U = typename Lanes<W>::U;
  H h;
  __builtin_memcpy(&h, p, sizeof h);
  const U u = __builtin_convertvector(h, U) << 16;
  F<W> f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

// x - 0 is exact for every x (-0 and NaN included), so this folds to a broadcast.
template <int W>
PENSIEVE_INLINE F<W> splat(float x) {
  return x - F<W>{};
}

template <int W>
PENSIEVE_INLINE F<W> max(const F<W>& a, const F<W>& b) {
  return a > b ? a : b;
}

template <int W>
PENSIEVE_INLINE F<W> min(const F<W>& a, const F<W>& b) {
  return a < b ? a : b;
}

template <int W>
PENSIEVE_INLINE float hsum(const F<W>& v) {
  float s = 0.0f;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

// 2^x, relative error ≈ 2e-7 (a couple of ulp). Inputs are clamped to
// [-127, 127]: 2^-127 comes out as exactly 0 (an all-zero exponent field with a
// zero mantissa), so -inf and masked scores give 0, and large x stays finite.
template <int W>
PENSIEVE_INLINE F<W> exp2(const F<W>& x_in) {
  const F<W> x = min<W>(max<W>(x_in, splat<W>(-127.0f)), splat<W>(127.0f));
  // Round to nearest with the 1.5·2^23 trick (exact for |x| ≤ 127).
  const F<W> magic = splat<W>(12582912.0f);
  const F<W> n = (x + magic) - magic;
  const F<W> f = x - n;  // in [-0.5, 0.5]
  // Taylor series of 2^f = e^(f·ln2) to degree 7: truncation error < 6e-9 on [-0.5, 0.5].
  F<W> p = splat<W>(1.5252733804059840e-5f);
  p = p * f + 1.5403530393381609e-4f;
  p = p * f + 1.3333558146428443e-3f;
  p = p * f + 9.6181291076284772e-3f;
  p = p * f + 5.5504108664821580e-2f;
  p = p * f + 2.4022650695910071e-1f;
  p = p * f + 6.9314718055994531e-1f;
  p = p * f + 1.0f;
  const I<W> bits = (__builtin_convertvector(n, I<W>) + 127) << 23;
  return p * (F<W>)bits;  // a vector cast reinterprets the bits
}

}  // namespace vec
