// Roofline probes for bench/kernels.ts: what this machine can do at best, measured in the same
// run as the kernels they judge (the machine is shared, so a figure from another day is no
// ceiling). Not used by the engine.
//   probeReadBandwidth(bytes, passes): median GB/s of reading a buffer of `bytes` with every
//     pool thread streaming 1 MiB chunks claimed in turn (a packed GEMV's access pattern).
//   probeFlops(kind, iterations): GFLOP/s (GOP/s) of independent register-resident dot
//     instructions on every pool thread, for the instruction the kernel of that kind runs on
//     the active ISA (matmul.cc's pick_kernel), so each figure is the ceiling of that kernel:
//       "bf16": AVX-512 BF16 vdpbf16ps (64 flops a zmm); on AVX2 the bf16 kernel widens bf16 to
//               f32 and runs vfmadd231ps ymm (16 flops), so its ceiling is the f32 FMA peak.
//       "int8": AVX-512 VNNI vpdpbusd (128 ops a zmm); on AVX2 vpmaddubsw + vpmaddwd + vpaddd
//               (32 u8×s8 multiply-adds a ymm triple: 64 ops), the int8 kernels' sequence.
//       "f32":  vfmadd231ps, zmm (32 flops) or ymm (16 flops).
//     0 when no SIMD path applies (scalar, or PENSIEVE_ISA=scalar).
//   probeInstruction(kind): which instruction that figure is ("bw" for the read probe), or ""
//     where the probe answers 0; the benchmark prints it beside each figure.
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
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "amx.h"
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

// AMX's tdpbf16ps, where the bf16 matmul runs for m >= 16 (matmul_amx.cc): four independent
// 16×16 sums, each instruction 16·16·32 multiply-adds.
__attribute__((target("amx-tile,amx-bf16"))) void flops_amx_bf16(int64_t iters, float* sink) {
  const AmxTileConfig cfg = amx_full_tiles(6);
  _tile_loadconfig(&cfg);
  alignas(64) uint16_t ones[16 * 32];
  for (uint16_t& v : ones) v = 0x3f80;
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, ones, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t it = 0; it < iters; ++it) {
    _tile_dpbf16ps(0, 4, 5);
    _tile_dpbf16ps(1, 4, 5);
    _tile_dpbf16ps(2, 4, 5);
    _tile_dpbf16ps(3, 4, 5);
  }
  alignas(64) float c[16 * 16];
  _tile_stored(0, c, 64);
  _tile_release();
  *sink = c[0];
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

// AVX2: the same loops on ymm.
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 128)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 160)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 192)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 224)));
  }
  a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a0);
  return lanes[0] ^ lanes[3];
}

__attribute__((target("avx2,fma"))) void flops_f32_avx2(int64_t iters, float* sink) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(1.0f), b = _mm256_set1_ps(1e-9f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  *sink = lanes[0] + lanes[7];
}

// 6 independent triples an iteration, written as asm: with intrinsics GCC hoists the
// multiplies (they take no accumulator) out of the loop, or, kept in by a barrier, spills the
// accumulators to the stack.
__attribute__((target("avx2"))) void flops_int8_avx2(int64_t iters, float* sink) {
  __m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1), c2 = _mm256_set1_epi32(2);
  __m256i c3 = _mm256_set1_epi32(3), c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5);
  const __m256i u = _mm256_set1_epi8(1), s = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1);
  for (int64_t it = 0; it < iters; ++it) {
    __m256i t0, t1, t2;
#define PENSIEVE_TRIPLE(c, t) "vpmaddubsw %[s], %[u], %[" #t "]\n\tvpmaddwd %[ones], %[" #t "], %[" #t "]\n\tvpaddd %[" #t "], %[" #c "], %[" #c "]\n\t"
    asm volatile(PENSIEVE_TRIPLE(c0, t0) PENSIEVE_TRIPLE(c1, t1) PENSIEVE_TRIPLE(c2, t2)
                 PENSIEVE_TRIPLE(c3, t0) PENSIEVE_TRIPLE(c4, t1) PENSIEVE_TRIPLE(c5, t2)
                 : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5),
                   [t0] "=&x"(t0), [t1] "=&x"(t1), [t2] "=&x"(t2)
                 : [u] "x"(u), [s] "x"(s), [ones] "x"(ones));
#undef PENSIEVE_TRIPLE
  }
  c0 = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)), _mm256_add_epi32(c4, c5));
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), c0);
  *sink = static_cast<float>(lanes[0] + lanes[7]);
}

struct FlopsProbe {
  void (*fn)(int64_t, float*) = nullptr;
  double ops_per_iter = 0;
  const char* instruction = "";
};

// The instruction the kernel of `kind` runs on the active ISA (matmul.cc's pick_kernel).
FlopsProbe flops_probe(const std::string& kind) {
  const CpuFeatures& f = cpu();
  const Isa isa = active_isa();
  if (kind == "bf16") {
    if (isa == Isa::Avx512 && f.amxbf16) return {flops_amx_bf16, 4 * 16 * 16 * 32 * 2, "tdpbf16ps (AMX; the bf16 matmul's kernel from 16 rows of x)"};
    if (isa == Isa::Avx512 && f.avx512bf16) return {flops_bf16, 12 * 64, "vdpbf16ps zmm"};
    if (isa >= Isa::Avx2) return {flops_f32_avx2, 12 * 16, "vfmadd231ps ymm (AVX2 bf16 kernel: bf16 widened to f32)"};
  } else if (kind == "int8") {
    if (isa == Isa::Avx512 && f.avx512vnni) return {flops_int8, 12 * 128, "vpdpbusd zmm"};
    if (isa >= Isa::Avx2) return {flops_int8_avx2, 6 * 64, "vpmaddubsw+vpmaddwd+vpaddd ymm"};
  } else if (kind == "f32") {
    if (isa == Isa::Avx512) return {flops_f32, 12 * 32, "vfmadd231ps zmm"};
    if (isa >= Isa::Avx2) return {flops_f32_avx2, 12 * 16, "vfmadd231ps ymm"};
  }
  return {};
}

// The streaming read the active ISA runs, or null.
uint64_t (*read_fn())(const uint8_t*, size_t) {
  if (active_isa() == Isa::Avx512) return read_avx512;
  if (active_isa() >= Isa::Avx2) return read_avx2;
  return nullptr;
}
#endif

Napi::Value ProbeReadBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t bytes = static_cast<size_t>(int_arg(info[0], "bytes")) & ~size_t{4095};
  const int passes = static_cast<int>(std::max<int64_t>(1, int_arg(info[1], "passes")));
#if defined(__x86_64__)
  uint64_t (*read)(const uint8_t*, size_t) = read_fn();
  if (read == nullptr || bytes < (1 << 20)) return Napi::Number::New(env, 0);
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
      for (size_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) sink[t] ^= read(p + c * chunk, chunk);
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
  const FlopsProbe probe = flops_probe(kind);
  void (*fn)(int64_t, float*) = probe.fn;
  const double ops_per_iter = probe.ops_per_iter;
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

Napi::Value ProbeInstruction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
#if defined(__x86_64__)
  if (kind == "bw") {
    const auto read = read_fn();
    return Napi::String::New(env, read == read_avx512 ? "vmovdqa64 zmm loads" : read == read_avx2 ? "vmovdqa ymm loads" : "");
  }
  return Napi::String::New(env, flops_probe(kind).instruction);
#else
  return Napi::String::New(env, "");
#endif
}

void RegisterProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeReadBandwidth", Napi::Function::New(env, ProbeReadBandwidth));
  exports.Set("probeFlops", Napi::Function::New(env, ProbeFlops));
  exports.Set("probeInstruction", Napi::Function::New(env, ProbeInstruction));
}

}  // namespace

PENSIEVE_REGISTER(RegisterProbe);

}  // namespace pensieve
