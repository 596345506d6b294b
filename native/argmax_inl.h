// Row argmax, compiled once per ISA by isa_each.h (see argmax.cc).

// Index of the first maximum of x[0, n); NaN never wins; 0 when every value is NaN (or n = 0).
// Two passes: the maximum with vector max (lanes start at -inf and NaN compares false, so it
// drops out), then the first index that holds it — the row is still in L2 for the second.
int32_t argmax_row(const float* x, int64_t n) {
  constexpr int W = kLanes;
  using V = vec::F<W>;
  V m0 = vec::splat<W>(-std::numeric_limits<float>::infinity()), m1 = m0;
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const V a = vec::load<W>(x + i), b = vec::load<W>(x + i + W);
    m0 = a > m0 ? a : m0;
    m1 = b > m1 ? b : m1;
  }
  float best = -std::numeric_limits<float>::infinity();
  for (int l = 0; l < W; ++l) best = std::max(best, std::max(m0[l], m1[l]));
  for (; i < n; ++i)
    if (x[i] > best) best = x[i];
  for (int64_t j = 0; j < n; ++j)
    if (x[j] == best) return static_cast<int32_t>(j);
  return 0;  // every value NaN
}
