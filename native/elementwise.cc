// Element-wise kernels of the FFN and the residual stream (src/kernels/types.ts:
// siluMul, geluTanhMul, softcap, add). Memory-bound: vectorized, and split across the pool only for
// large arrays (a prefill chunk), where the second core's bandwidth pays for
// the wake-up; a decode step's few thousand elements run inline.
#include <napi.h>

#include <cmath>
#include <string>

#include "napi_util.h"
#include "parallel.h"

#define PENSIEVE_ISA_BODY "elementwise_inl.h"
#include "isa_each.h"

namespace pensieve {

namespace {

constexpr int64_t kParallelFloats = 1 << 16;  // below this, one thread
constexpr int64_t kGrain = 1 << 14;

template <class Fn>
void for_range(int64_t n, const Fn& fn) {
  if (n < kParallelFloats) fn(0, n);
  else parallel_for(n, kGrain, fn);
}

Napi::Value SiluMul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> gate = typed_array<float>(info[0], "gate");
  const Span<float> up = typed_array<float>(info[1], "up");
  const Span<float> out = typed_array<float>(info[2], "out");
  if (up.size != gate.size || out.size != gate.size)
    throw Napi::RangeError::New(env, "siluMul: gate, up and out must have the same length (" + std::to_string(gate.size) + ", " +
                                         std::to_string(up.size) + ", " + std::to_string(out.size) + ")");
  for_range(static_cast<int64_t>(gate.size),
            [&](int64_t i0, int64_t i1) { PENSIEVE_ISA_CALL(silu_mul, gate.data, up.data, out.data, i0, i1); });
  return env.Undefined();
}

Napi::Value GeluTanhMul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> gate = typed_array<float>(info[0], "gate");
  const Span<float> up = typed_array<float>(info[1], "up");
  const Span<float> out = typed_array<float>(info[2], "out");
  if (up.size != gate.size || out.size != gate.size)
    throw Napi::RangeError::New(env, "geluTanhMul: gate, up and out must have the same length (" + std::to_string(gate.size) + ", " +
                                         std::to_string(up.size) + ", " + std::to_string(out.size) + ")");
  for_range(static_cast<int64_t>(gate.size),
            [&](int64_t i0, int64_t i1) { PENSIEVE_ISA_CALL(gelu_tanh_mul, gate.data, up.data, out.data, i0, i1); });
  return env.Undefined();
}

Napi::Value Softcap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> x = typed_array<float>(info[0], "x");
  const double cap = number_arg(info[1], "cap");
  if (!(cap > 0 && std::isfinite(cap))) throw Napi::RangeError::New(env, "softcap: cap must be finite and > 0, got " + std::to_string(cap));
  const float c = static_cast<float>(cap);
  for_range(static_cast<int64_t>(x.size), [&](int64_t i0, int64_t i1) { PENSIEVE_ISA_CALL(softcap, x.data, c, i0, i1); });
  return env.Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> dst = typed_array<float>(info[0], "dst");
  const Span<float> src = typed_array<float>(info[1], "src");
  if (src.size != dst.size)
    throw Napi::RangeError::New(env, "add: dst has " + std::to_string(dst.size) + " floats, src " + std::to_string(src.size));
  for_range(static_cast<int64_t>(dst.size), [&](int64_t i0, int64_t i1) { PENSIEVE_ISA_CALL(add, dst.data, src.data, i0, i1); });
  return env.Undefined();
}

void RegisterElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("siluMul", Napi::Function::New(env, SiluMul));
  exports.Set("geluTanhMul", Napi::Function::New(env, GeluTanhMul));
  exports.Set("softcap", Napi::Function::New(env, Softcap));
  exports.Set("add", Napi::Function::New(env, Add));
}

}  // namespace

PENSIEVE_REGISTER(RegisterElementwise);

}  // namespace pensieve
