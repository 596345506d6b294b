// RMSNorm over rows (src/kernels/types.ts: rmsnorm). Rows are independent, so
// large inputs (a prefill chunk) split across the pool by rows; a decode
// step's single row runs inline, where waking a thread would cost more than
// the row.
#include <napi.h>

#include <cmath>
#include <string>

#include "napi_util.h"
#include "parallel.h"

#define PENSIEVE_ISA_BODY "norm_inl.h"
#include "isa_each.h"

namespace pensieve {

namespace {

constexpr int64_t kParallelFloats = 1 << 15;  // below this, one thread

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> x = typed_array<float>(info[0], "x");
  const Span<float> weight = typed_array<float>(info[1], "weight");
  const double eps = number_arg(info[2], "eps");
  const Span<float> out = typed_array<float>(info[3], "out");
  const int64_t dim = static_cast<int64_t>(weight.size);
  if (dim == 0) throw Napi::RangeError::New(env, "rmsnorm: weight is empty");
  if (x.size % dim != 0)
    throw Napi::RangeError::New(env, "rmsnorm: x has " + std::to_string(x.size) + " floats, not a whole number of rows of " +
                                         std::to_string(dim));
  if (out.size != x.size)
    throw Napi::RangeError::New(env, "rmsnorm: out has " + std::to_string(out.size) + " floats, x has " + std::to_string(x.size));
  if (!(eps >= 0) || !std::isfinite(eps)) throw Napi::RangeError::New(env, "rmsnorm: eps must be a finite number ≥ 0");

  const int64_t rows = static_cast<int64_t>(x.size) / dim;
  const float e = static_cast<float>(eps);
  auto run = [&](int64_t r0, int64_t r1) { PENSIEVE_ISA_CALL(rmsnorm_rows, x.data, weight.data, e, out.data, r0, r1, dim); };
  if (rows * dim < kParallelFloats) run(0, rows);
  else parallel_for(rows, std::max<int64_t>(1, kParallelFloats / 2 / dim), run);
  return env.Undefined();
}

void RegisterNorm(Napi::Env env, Napi::Object exports) { exports.Set("rmsnorm", Napi::Function::New(env, RmsNorm)); }

}  // namespace

PENSIEVE_REGISTER(RegisterNorm);

}  // namespace pensieve
