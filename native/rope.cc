// Rotary position embedding, in place (src/kernels/types.ts: rope), both pair
// layouts: interleaved (2j, 2j+1) and neox (j, j + headDim/2). Frequency
// scaling (llama3, linear, GGUF rope_freqs) is already folded into invFreq by
// the caller (src/model/rope.ts), so this only rotates.
#include <napi.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "napi_util.h"
#include "parallel.h"

#define PENSIEVE_ISA_BODY "rope_inl.h"
#include "isa_each.h"

namespace pensieve {

namespace {

constexpr int64_t kParallelFloats = 1 << 15;  // below this, one thread

Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span<float> x = typed_array<float>(info[0], "x");
  const Span<int32_t> positions = typed_array<int32_t>(info[1], "positions");
  const int64_t heads = int_arg(info[2], "numHeads");
  const int64_t head_dim = int_arg(info[3], "headDim");
  const Span<float> inv_freq = typed_array<float>(info[4], "invFreq");
  if (!info[5].IsBoolean()) throw Napi::TypeError::New(env, "neox must be a boolean");
  const bool neox = info[5].As<Napi::Boolean>().Value();
  if (heads < 1 || heads > (1 << 24)) throw Napi::RangeError::New(env, "rope: numHeads must be in [1, 2^24]");
  if (head_dim < 2 || head_dim > (1 << 24) || head_dim % 2 != 0)
    throw Napi::RangeError::New(env, "rope: headDim must be even and in [2, 2^24], got " + std::to_string(head_dim));
  if (static_cast<int64_t>(inv_freq.size) != head_dim / 2)
    throw Napi::RangeError::New(env, "rope: invFreq has " + std::to_string(inv_freq.size) + " entries, headDim/2 = " +
                                         std::to_string(head_dim / 2));
  const int64_t tokens = static_cast<int64_t>(positions.size);
  const int64_t row = heads * head_dim;
  if (static_cast<int64_t>(x.size) != tokens * row)
    throw Napi::RangeError::New(env, "rope: x has " + std::to_string(x.size) + " floats, positions.length·numHeads·headDim = " +
                                         std::to_string(tokens * row));

  auto run = [&](int64_t t0, int64_t t1) {
    std::vector<float> table(2 * static_cast<size_t>(head_dim));
    PENSIEVE_ISA_CALL(rope_tokens, x.data, positions.data, t0, t1, static_cast<int>(heads), static_cast<int>(head_dim),
                      inv_freq.data, neox, table.data());
  };
  if (tokens * row < kParallelFloats) run(0, tokens);
  else parallel_for(tokens, std::max<int64_t>(1, kParallelFloats / 2 / row), run);
  return env.Undefined();
}

void RegisterRope(Napi::Env env, Napi::Object exports) { exports.Set("rope", Napi::Function::New(env, Rope)); }

}  // namespace

PENSIEVE_REGISTER(RegisterRope);

}  // namespace pensieve
