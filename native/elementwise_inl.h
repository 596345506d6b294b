// Element-wise kernels, compiled once per ISA by isa_each.h (see elementwise.cc).
// Tails run the same formulas one lane wide, so every element gets the same
// arithmetic whichever path or position it falls on.

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kSqrt2OverPi = 0.7978845608028654f;

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

template <int W>
PENSIEVE_INLINE void gelu_tanh_mul_lanes(const float* gate, const float* up, float* out, int64_t i) {
  const vec::F<W> g = vec::load<W>(gate + i);
  // gelu_tanh(g) = ½g(1 + tanh(u)) = g / (1 + e^{-2u}), u = √(2/π)·(g + 0.044715·g³): the
  // tanh form as a sigmoid, one exp2 (clamped, so large |g| gives g or 0, never NaN).
  const vec::F<W> u = g * (kSqrt2OverPi + (kSqrt2OverPi * 0.044715f) * g * g);
  vec::store<W>(out + i, g / (1.0f + vec::exp2<W>(u * (-2.0f * kLog2e))) * vec::load<W>(up + i));
}

// out[i] = gelu_tanh(gate[i]) · up[i] for i in [i0, i1) (Gemma's GeGLU); out may be gate or up.
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t i0, int64_t i1) {
  constexpr int W = kLanes;
  int64_t i = i0;
  for (; i + W <= i1; i += W) gelu_tanh_mul_lanes<W>(gate, up, out, i);
  for (; i < i1; ++i) gelu_tanh_mul_lanes<1>(gate, up, out, i);
}

template <int W>
PENSIEVE_INLINE void softcap_lanes(float* x, float cap, int64_t i) {
  // cap·tanh(x/cap) = cap − 2cap / (1 + e^{2x/cap}).
  const vec::F<W> e = vec::exp2<W>(vec::load<W>(x + i) * (2.0f * kLog2e / cap));
  vec::store<W>(x + i, cap - (2.0f * cap) / (1.0f + e));
}

// x[i] = cap·tanh(x[i] / cap) for i in [i0, i1): Gemma 2's final-logit soft-capping.
void softcap(float* x, float cap, int64_t i0, int64_t i1) {
  constexpr int W = kLanes;
  int64_t i = i0;
  for (; i + W <= i1; i += W) softcap_lanes<W>(x, cap, i);
  for (; i < i1; ++i) softcap_lanes<1>(x, cap, i);
}

// dst[i] += src[i] for i in [i0, i1).
void add(float* dst, const float* src, int64_t i0, int64_t i1) {
  constexpr int W = kLanes;
  int64_t i = i0;
  for (; i + W <= i1; i += W) vec::store<W>(dst + i, vec::load<W>(dst + i) + vec::load<W>(src + i));
  for (; i < i1; ++i) dst[i] += src[i];
}
