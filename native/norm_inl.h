// RMSNorm rows, compiled once per ISA by isa_each.h (see norm.cc).

// out[r] = x[r] / sqrt(mean(x[r]²) + eps) · weight for rows [r0, r1). The sum of
// squares runs in four W-lane f32 accumulators (enough independent chains to
// hide the add latency); out may be x, each element is read before it is written.
void rmsnorm_rows(const float* x, const float* weight, float eps, float* out, int64_t r0, int64_t r1, int64_t dim) {
  constexpr int W = kLanes;
  using V = vec::F<W>;
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    V a0 = vec::splat<W>(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 * W <= dim; i += 4 * W) {
      const V v0 = vec::load<W>(xr + i), v1 = vec::load<W>(xr + i + W);
      const V v2 = vec::load<W>(xr + i + 2 * W), v3 = vec::load<W>(xr + i + 3 * W);
      a0 += v0 * v0;
      a1 += v1 * v1;
      a2 += v2 * v2;
      a3 += v3 * v3;
    }
    for (; i + W <= dim; i += W) {
      const V v = vec::load<W>(xr + i);
      a0 += v * v;
    }
    float ss = vec::hsum<W>((a0 + a1) + (a2 + a3));
    for (; i < dim; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    const V inv_v = vec::splat<W>(inv);
    i = 0;
    for (; i + W <= dim; i += W) vec::store<W>(o + i, vec::load<W>(xr + i) * inv_v * vec::load<W>(weight + i));
    for (; i < dim; ++i) o[i] = xr[i] * inv * weight[i];
  }
}
