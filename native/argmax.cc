// argmax: the greedy pick of every sampled row of logits (src/kernels/types.ts). A row of a
// 150k vocabulary is 600 KB; a JS loop takes ~0.19 ms over it, which at 32 decodes a step is
// 6% of the step. Rows are split across the pool.
#include <napi.h>

#include <string>

#include "napi_util.h"
#include "parallel.h"

#define PENSIEVE_ISA_BODY "argmax_inl.h"
#include "isa_each.h"

namespace pensieve {

namespace {

Napi::Value Argmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> x = typed_array<float>(info[0], "x");
  const Span<int32_t> out = typed_array<int32_t>(info[1], "out");
  const int64_t rows = static_cast<int64_t>(out.size);
  if (rows == 0) return env.Undefined();
  if (x.size % static_cast<size_t>(rows) != 0)
    throw Napi::RangeError::New(env, "argmax: x has " + std::to_string(x.size) + " floats, not a whole number of rows for out's " +
                                         std::to_string(rows) + " entries");
  const int64_t cols = static_cast<int64_t>(x.size) / rows;
  if (cols > 2147483647) throw Napi::RangeError::New(env, "argmax: rows longer than 2^31 - 1");
  parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) out.data[r] = PENSIEVE_ISA_CALL(argmax_row, x.data + r * cols, cols);
  });
  return env.Undefined();
}

void RegisterArgmax(Napi::Env env, Napi::Object exports) { exports.Set("argmax", Napi::Function::New(env, Argmax)); }

}  // namespace

PENSIEVE_REGISTER(RegisterArgmax);

}  // namespace pensieve
