// The rounding step of q8_0 quantization, shared by weight packing (pack.cc)
// and the scalar activation quantizer so both match the TS reference's
// roundHalfAway(x · (1/d)) evaluated in double.
#pragma once

#include <cmath>
#include <cstdint>

namespace pensieve {

// Round half away from zero. Valid for |a| ≤ 127·(1+ε), where |a| + 0.5 is
// exact in double so truncation is exact rounding; NaN (a block holding an
// infinity) becomes 0 instead of undefined behaviour.
inline int8_t q8_round(double a) {
  double m = std::fabs(a) + 0.5;
  if (!(m < 128.0)) return 0;
  int v = static_cast<int>(m);
  return static_cast<int8_t>(a < 0 ? -v : v);
}

}  // namespace pensieve
