// Roofline probes for bench/kernels.ts: what this machine can do at best, measured in the same
// run as the kernels they judge (the machine is shared, so a figure from another day is no
// ceiling). Not used by the engine.
//   probeReadBandwidth(bytes, passes): median GB/s of reading a buffer of `bytes` with every
//     pool thread streaming 1 MiB chunks claimed in turn (a packed GEMV's access pattern).
//   probeFlops(kind, iterations): GFLOP/s of independent register-resident dot instructions on
//     every pool thread: "bf16" vdpbf16ps (64 flops a zmm), "int8" vpdpbusd (128 ops a zmm),
//     "f32" FMA (32 flops a zmm). 0 when the CPU lacks the instruction.
// GCC 12's AVX-512 reduce intrinsics trip -Wuninitialized (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <napi.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu.h"
#include "napi_util.h"
#include "parallel.h"

namespace pensieve {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
  }
  a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a0);
  return lanes[0] ^ lanes[7];
}

__attribute__((target("avx512f,avx512bf16"))) void flops_bf16(int64_t iters, float* sink) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3f803f80);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  *sink = _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx512f,avx512vnni"))) void flops_int8(int64_t iters, float* sink) {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm512_add_epi32(acc[0], acc[i]);
  *sink = static_cast<float>(_mm512_reduce_add_epi32(acc[0]));
}

__attribute__((target("avx512f"))) void flops_f32(int64_t iters, float* sink) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(1.0f), b = _mm512_set1_ps(1e-9f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  *sink = _mm512_reduce_add_ps(acc[0]);
}
#endif

Napi::Value ProbeReadBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t bytes = static_cast<size_t>(int_arg(info[0], "bytes")) & ~size_t{4095};
  const int passes = static_cast<int>(std::max<int64_t>(1, int_arg(info[1], "passes")));
#if defined(__x86_64__)
  if (!cpu().avx512 || bytes < (1 << 20)) return Napi::Number::New(env, 0);
  // Huge pages, as packed weights get them (pack.cc): the prefetchers stop at page boundaries.
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw Napi::RangeError::New(env, "cannot map the probe buffer");
  madvise(mem, bytes, MADV_HUGEPAGE);
  auto* p = static_cast<uint8_t*>(mem);
  for (size_t i = 0; i < bytes; i += 4096) p[i] = static_cast<uint8_t>(i >> 12);  // fault every page in
  // Chunks of 1 MiB claimed dynamically, as matmul claims its tasks: on a shared machine a
  // static half per thread would measure the slower core, not what the memory can deliver.
  const int threads = num_threads();
  const size_t chunk = size_t{1} << 20, chunks = bytes / chunk;
  std::vector<double> samples;
  std::vector<uint64_t> sink(threads);
  for (int pass = 0; pass <= passes; ++pass) {
    std::atomic<size_t> next{0};
    const double t0 = now_seconds();
    parallel_tasks(threads, [&](int t) {
      for (size_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) sink[t] ^= read_avx512(p + c * chunk, chunk);
    });
    if (pass > 0) samples.push_back(static_cast<double>(bytes) / (now_seconds() - t0) / 1e9);  // pass 0 warms up
  }
  munmap(mem, bytes);
  std::sort(samples.begin(), samples.end());
  return Napi::Number::New(env, samples[samples.size() / 2]);
#else
  return Napi::Number::New(env, 0);
#endif
}

Napi::Value ProbeFlops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  const int64_t iters = std::max<int64_t>(1, int_arg(info[1], "iterations"));
#if defined(__x86_64__)
  const CpuFeatures& f = cpu();
  void (*fn)(int64_t, float*) = nullptr;
  double ops_per_iter = 0;
  if (kind == "bf16" && f.avx512bf16) fn = flops_bf16, ops_per_iter = 12 * 64;
  else if (kind == "int8" && f.avx512vnni) fn = flops_int8, ops_per_iter = 12 * 128;
  else if (kind == "f32" && f.avx512) fn = flops_f32, ops_per_iter = 12 * 32;
  if (fn == nullptr) return Napi::Number::New(env, 0);
  const int threads = num_threads();
  std::vector<float> sink(threads);
  fn(iters / 10, sink.data());  // warm up (clock ramp)
  const double t0 = now_seconds();
  parallel_tasks(threads, [&](int t) { fn(iters, &sink[t]); });
  const double seconds = now_seconds() - t0;
  return Napi::Number::New(env, ops_per_iter * static_cast<double>(iters) * threads / seconds / 1e9);
#else
  return Napi::Number::New(env, 0);
#endif
}

void RegisterProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeReadBandwidth", Napi::Function::New(env, ProbeReadBandwidth));
  exports.Set("probeFlops", Napi::Function::New(env, ProbeFlops));
}

}  // namespace

PENSIEVE_REGISTER(RegisterProbe);

}  // namespace pensieve
