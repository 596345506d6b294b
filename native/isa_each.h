// Compiles one kernel body per ISA. Define PENSIEVE_ISA_BODY as the body's
// header ("foo_inl.h") and include this file once; the body is included three
// times, each inside namespace pensieve::(anonymous)::<isa> and under that
// ISA's target pragma, where it sees
//   kLanes         floats per vector: 16 (avx512), 8 (avx2), 1 (scalar)
//   kAccumulators  vectors a register-blocked loop may keep live (half the register file)
//   vec::          the width-generic helpers of vec.h, compiled for that target.
// Why not one template called from three target-attributed wrappers: GCC
// lowers a template's vector code for the target it was *defined* under, so a
// default-target body splats a runtime scalar into a zmm lane by lane; defined
// under the right target, the same source gives vbroadcastss / {1to16}.
// Callers pick a copy at run time with PENSIEVE_ISA_CALL (active_isa()), so a
// CPU without AVX-512 never executes a zmm instruction. Everything stays in an
// anonymous namespace: no symbol compiled for AVX-512 can be merged by the
// linker into code another CPU runs.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu.h"

#ifndef PENSIEVE_ISA_BODY
#error "define PENSIEVE_ISA_BODY before including isa_each.h"
#endif

#define PENSIEVE_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
namespace pensieve {
namespace {
namespace avx512 {
constexpr int kLanes = 16;
constexpr int kAccumulators = 16;
#include "vec.h"
#include PENSIEVE_ISA_BODY
}  // namespace avx512
}  // namespace
}  // namespace pensieve
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace pensieve {
namespace {
namespace avx2 {
constexpr int kLanes = 8;
constexpr int kAccumulators = 8;
#include "vec.h"
#include PENSIEVE_ISA_BODY
}  // namespace avx2
}  // namespace
}  // namespace pensieve
#pragma GCC pop_options

// Calls <isa>::fn(args...) for the widest ISA active_isa() allows.
#define PENSIEVE_ISA_CALL(fn, ...)                                         \
  (::pensieve::active_isa() == ::pensieve::Isa::Avx512 ? avx512::fn(__VA_ARGS__) \
   : ::pensieve::active_isa() == ::pensieve::Isa::Avx2 ? avx2::fn(__VA_ARGS__)   \
                                                       : scalar::fn(__VA_ARGS__))
#else
#define PENSIEVE_ISA_CALL(fn, ...) scalar::fn(__VA_ARGS__)
#endif

namespace pensieve {
namespace {
namespace scalar {
constexpr int kLanes = 1;
constexpr int kAccumulators = 8;
#include "vec.h"
#include PENSIEVE_ISA_BODY
}  // namespace scalar
}  // namespace
}  // namespace pensieve

#undef PENSIEVE_ISA_BODY
