// Element-wise kernels, compiled once per ISA by isa_each.h (see elementwise.cc).
// Tails run the same formulas one lane wide, so every element gets the same
// arithmetic whichever path or position it falls on.

constexpr float kLog2e = 1.4426950408889634f;

template <int W>
PENSIEVE_INLINE void silu_mul_lanes(const float* gate, const float* up, float* out, int64_t i) {
  const vec::F<W> g = vec::load<W>(gate + i);
  // silu(g) = g / (1 + e^-g); e^-g = 2^(-g·log2 e), clamped by exp2 so large |g| stays finite.
  vec::store<W>(out + i, g / (1.0f + vec::exp2<W>(g * -kLog2e)) * vec::load<W>(up + i));
}

// out[i] = silu(gate[i]) · up[i] for i in [i0, i1); out may be gate or up.
void silu_mul(const float* gate, const float* up, float* out, int64_t i0, int64_t i1) {
  constexpr int W = kLanes;
  int64_t i = i0;
  for (; i + W <= i1; i += W) silu_mul_lanes<W>(gate, up, out, i);
  for (; i < i1; ++i) silu_mul_lanes<1>(gate, up, out, i);
}

// dst[i] += src[i] for i in [i0, i1).
void add(float* dst, const float* src, int64_t i0, int64_t i1) {
  constexpr int W = kLanes;
  int64_t i = i0;
  for (; i + W <= i1; i += W) vec::store<W>(dst + i, vec::load<W>(dst + i) + vec::load<W>(src + i));
  for (; i < i1; ++i) dst[i] += src[i];
}
