// matmul: out[m][rows] = x[m][cols] · Wᵀ (+ bias) over a packed weight.
// This file is the driver: it checks the arguments, picks the kernel for the
// active ISA, prepares the activations once per call (bf16 rounding, q8_0
// quantization) and splits the output into tiles for the thread pool. The
// arithmetic lives in matmul_{avx512,avx2,scalar}.cc.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bf16.h"
#include "cpu.h"
#include "matmul.h"
#include "napi_util.h"
#include "parallel.h"

namespace pensieve {

namespace {

// _mm256_cvtph_ps (the q8_0 scales) needs F16C, which cpu() does not report.
bool has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool f16c = (__builtin_cpu_init(), __builtin_cpu_supports("f16c"));
  return f16c;
#else
  return false;
#endif
}

// QuantSums: Q8 plus the per-16 sums and d_x·Σq_x that the Quant kernels read.
enum class XPrep { None, Bf16Bits, Bf16Values, Q8, QuantSums };

struct Kernel {
  MatmulTileFn tile;
  XPrep prep;
  QuantizeRowFn quantize = nullptr;
  int rows_per_tile;  // the kernel's register tile, for the work split
};

Kernel pick_kernel(const PackedMatrix& w, int64_t m) {
  const Isa isa = active_isa();
  const CpuFeatures& f = cpu();
  const bool avx2 = isa >= Isa::Avx2 && has_f16c();
  switch (w.dtype) {
    case PackedDType::F16:
      if (isa == Isa::Avx512 && has_f16c()) return {matmul_f16_avx512, XPrep::None, nullptr, kRowsAvx512};
      if (avx2) return {matmul_f16_avx2, XPrep::None, nullptr, kRowsAvx2};
      return {matmul_f16_scalar, XPrep::None, nullptr, kRowsScalar};
    case PackedDType::Quant:
      if (isa == Isa::Avx512 && f.avx512vnni && has_f16c()) return {quant_tile_avx512(w.qtype), XPrep::QuantSums, quantize_row_q8_avx512, kRowsAvx512};
      if (avx2 && m >= kGemmMinRowsAvx2) return {quant_gemm_avx2(w.qtype), XPrep::QuantSums, quantize_row_q8_avx2, kRowsAvx2Gemm};
      if (avx2) return {quant_tile_avx2(w.qtype), XPrep::QuantSums, quantize_row_q8_avx2, kRowsAvx2Q8};
      return {quant_tile_scalar(w.qtype), XPrep::QuantSums, quantize_row_q8_scalar, kRowsScalar};
    case PackedDType::F32:
      if (isa == Isa::Avx512) return {matmul_f32_avx512, XPrep::None, nullptr, kRowsAvx512};
      if (avx2) return {matmul_f32_avx2, XPrep::None, nullptr, kRowsAvx2};
      return {matmul_f32_scalar, XPrep::None, nullptr, kRowsScalar};
    case PackedDType::BF16:
      if (isa == Isa::Avx512 && f.amxbf16 && m >= kAmxMinRows && w.k_steps % 16 == 0) return {matmul_bf16_amx, XPrep::Bf16Bits, nullptr, kRowsAmx};
      if (isa == Isa::Avx512 && f.avx512bf16) return {matmul_bf16_avx512, XPrep::Bf16Bits, nullptr, kRowsAvx512};
      if (avx2) return {matmul_bf16_avx2, XPrep::Bf16Values, nullptr, kRowsAvx2};
      return {matmul_bf16_scalar, XPrep::Bf16Values, nullptr, kRowsScalar};
    case PackedDType::Q8_0:
    default:
      if (isa == Isa::Avx512 && f.avx512vnni) return {matmul_q8_avx512, XPrep::Q8, quantize_row_q8_avx512, kRowsAvx512};
      if (avx2 && m >= kGemmMinRowsAvx2) return {quant_gemm_avx2(QType::Q8_0), XPrep::Q8, quantize_row_q8_avx2, kRowsAvx2Gemm};
      if (avx2) return {matmul_q8_avx2, XPrep::Q8, quantize_row_q8_avx2, kRowsAvx2Q8};
      return {matmul_q8_scalar, XPrep::Q8, quantize_row_q8_scalar, kRowsScalar};
  }
}

}  // namespace

uint8_t* gemm_panel_buffer(size_t bytes) {
  static thread_local uint8_t* buf = nullptr;
  static thread_local size_t capacity = 0;
  if (capacity < bytes) {
    std::free(buf);
    capacity = (bytes + 4095) / 4096 * 4096;
    buf = static_cast<uint8_t*>(std::aligned_alloc(64, capacity));
    if (!buf) std::abort();  // a few hundred KiB at most: out of memory
  }
  return buf;
}

namespace {

// Per-thread scratch for prepared activations, kept between calls so a decode
// step does not allocate.
struct Scratch {
  std::vector<uint16_t> bits;
  std::vector<float> values;
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sum;
  std::vector<int32_t> sum16;
  std::vector<float> dsum, dsum16;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

// Slack past the end of each x scratch buffer: a compiler may load the next k-step's x before
// it tests the loop bound (GCC's -O3 scalar bf16 tile does at m = 3: valgrind shows an 8-byte read
// just past the buffer). Never used in a result, but it must not be able to fault.
constexpr size_t kScratchSlack = 64;

// Fills a.x (and a.xd/a.xsum) with x as the kernel reads it.
void prepare_x(const Kernel& kern, const PackedMatrix& w, const float* x, int64_t m, MatmulArgs& a) {
  const int64_t cols = w.cols;
  // Rows are independent: spread big prefill batches over the pool.
  const int64_t grain = std::max<int64_t>(1, 16384 / cols);
  Scratch& s = scratch();
  switch (kern.prep) {
    case XPrep::None:
      a.x = x;
      a.ldx = cols;
      return;
    case XPrep::Bf16Bits: {
      const int64_t ld = 2 * w.k_steps;
      s.bits.resize(static_cast<size_t>(m * ld) + kScratchSlack);
      uint16_t* dst = s.bits.data();
      parallel_for(m, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          round_bf16_avx512(x + r * cols, cols, dst + r * ld);
          if (ld > cols) dst[r * ld + cols] = 0;
        }
      });
      a.x = dst;
      a.ldx = ld;
      return;
    }
    case XPrep::Bf16Values: {
      const int64_t ld = 2 * w.k_steps;
      s.values.resize(static_cast<size_t>(m * ld) + kScratchSlack);
      float* dst = s.values.data();
      parallel_for(m, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          for (int64_t k = 0; k < cols; ++k) dst[r * ld + k] = bf16_to_f32(f32_to_bf16(x[r * cols + k]));
          if (ld > cols) dst[r * ld + cols] = 0;
        }
      });
      a.x = dst;
      a.ldx = ld;
      return;
    }
    case XPrep::Q8:
    case XPrep::QuantSums: {
      const int64_t nb = cols / kQ8Block;
      s.q.resize(static_cast<size_t>(m * cols) + kScratchSlack);
      s.d.resize(static_cast<size_t>(m * nb));
      s.sum.resize(static_cast<size_t>(m * nb));
      int8_t* q = s.q.data();
      float* d = s.d.data();
      int32_t* sum = s.sum.data();
      const bool sums = kern.prep == XPrep::QuantSums;
      if (sums) {
        s.sum16.resize(static_cast<size_t>(m * 2 * nb));
        s.dsum.resize(static_cast<size_t>(m * nb));
        s.dsum16.resize(static_cast<size_t>(m * 2 * nb));
      }
      int32_t* sum16 = s.sum16.data();
      float* dsum = s.dsum.data();
      float* dsum16 = s.dsum16.data();
      QuantizeRowFn quantize = kern.quantize;
      parallel_for(m, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          quantize(x + r * cols, cols, q + r * cols, d + r * nb, sum + r * nb);
          if (!sums) continue;
          for (int64_t h = 0; h < 2 * nb; ++h) {
            int32_t t = 0;
            for (int j = 0; j < 16; ++j) t += q[r * cols + 16 * h + j];
            sum16[r * 2 * nb + h] = t;
            dsum16[r * 2 * nb + h] = d[r * nb + h / 2] * static_cast<float>(t);
          }
          for (int64_t b = 0; b < nb; ++b) dsum[r * nb + b] = d[r * nb + b] * static_cast<float>(sum[r * nb + b]);
        }
      });
      a.x = q;
      a.ldx = cols;
      a.xd = d;
      a.xsum = sum;
      a.xblocks = nb;
      if (sums) {
        a.xsum16 = sum16;
        a.xdsum = dsum;
        a.xdsum16 = dsum16;
      }
      return;
    }
  }
}

// Bytes of one prepared element of x as the kernel reads it.
int64_t x_elem_bytes(XPrep prep) {
  switch (prep) {
    case XPrep::None:
    case XPrep::Bf16Values: return 4;
    case XPrep::Bf16Bits: return 2;
    case XPrep::Q8:
    case XPrep::QuantSums: return 1;
  }
  return 4;
}
constexpr int64_t kXBlockBytes = 192 * 1024;

// [front, back) item ranges packed in one word (items < 2^32).
inline uint64_t pack_range(int64_t front, int64_t back) { return (static_cast<uint64_t>(front) << 32) | static_cast<uint64_t>(back); }
inline int64_t range_front(uint64_t w) { return static_cast<int64_t>(w >> 32); }
inline int64_t range_back(uint64_t w) { return static_cast<int64_t>(w & 0xffffffffu); }

// Splits panels × row chunks over the pool. Panels are the outer index, so a
// thread's contiguous range of work is a contiguous stretch of the weight (one
// stream) and each panel is reused across all its rows while it is in cache;
// rows are split too only when there are too few panels to feed every thread.
void run_tiles(const Kernel& kern, const MatmulArgs& a, int64_t m) {
  const PackedMatrix& w = *a.w;
  const int64_t P = w.panels;
  const int64_t threads = num_threads();
  const int64_t tiles = (m + kern.rows_per_tile - 1) / kern.rows_per_tile;
  int64_t chunks = 1;
  if (P < 2 * threads && tiles > 1) chunks = std::min(tiles, (2 * threads + P - 1) / P);
  const int64_t chunk_rows = (tiles + chunks - 1) / chunks * kern.rows_per_tile;
  chunks = (m + chunk_rows - 1) / chunk_rows;

  // About 64K multiply-adds per claim at least, so tiny matmuls stay on one thread. Otherwise
  // the items are split into one contiguous share per thread, claimed dynamically (below): one
  // memory stream per thread, and no thread idles at the end while another still has work (with
  // a fixed split, a core taken by a neighbour leaves the other idle).
  const int64_t items = P * chunks;
  const int64_t work = kPanelRows * w.cols * std::min(m, chunk_rows);
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(work, 1));
  const MatmulTileFn tile = kern.tile;
  // Rows of x in blocks that stay in a core's L2 (512 KiB on the Zen 3 machine, with room left for
  // the panel and a GEMM's decoded copy of it) while a claim's panels stream past them: every
  // panel reads all of its rows, and a prefill's x (512 rows of 896 f32 is 1.8 MiB) read from L3
  // once per panel by both threads left the bf16 GEMM at ~0.75× its one-thread speed.
  const int64_t row_bytes = std::max<int64_t>(1, a.ldx * x_elem_bytes(kern.prep));
  const int64_t block_rows = std::max<int64_t>(1, kXBlockBytes / row_bytes / kern.rows_per_tile) * kern.rows_per_tile;
  auto run_items = [&](int64_t begin, int64_t end) {
    if (chunks == 1) {
      for (int64_t r0 = 0; r0 < m; r0 += block_rows) tile(a, begin, end, r0, std::min(m, r0 + block_rows));
      return;
    }
    for (int64_t it = begin; it < end; ++it) {
      const int64_t p = it / chunks, c = it % chunks;
      tile(a, p, p + 1, c * chunk_rows, std::min(m, (c + 1) * chunk_rows));
    }
  };
  if (threads == 1 || items < 2 * grain) {
    run_items(0, items);
    return;
  }
  // Task t owns the t-th contiguous share of the items and claims it front to back (a quarter of
  // what is left of it at a time, at least a grain), so each thread reads one unbroken stream and
  // the prefetchers ramp up once per call; a task that finishes its share takes claims from the
  // back of the others'. Each share's [front, back) is one 64-bit word, so the owner and a thief
  // never claim the same item.
  const int T = static_cast<int>(threads);
  std::vector<std::atomic<uint64_t>> shares(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) shares[t].store(pack_range(items * t / T, items * (t + 1) / T), std::memory_order_relaxed);
  parallel_tasks(T, [&](int t) {
    for (int k = 0; k < T; ++k) {
      std::atomic<uint64_t>& share = shares[(t + k) % T];
      const bool own = k == 0;
      uint64_t word = share.load(std::memory_order_relaxed);
      for (;;) {
        const int64_t front = range_front(word), back = range_back(word);
        if (front >= back) break;
        // Guided within a share: a quarter of what is left of it, at least a grain.
        const int64_t n = std::min(back - front, std::max(grain, (back - front) / 4));
        const uint64_t claimed = own ? pack_range(front + n, back) : pack_range(front, back - n);
        if (share.compare_exchange_weak(word, claimed, std::memory_order_relaxed)) {
          if (own) run_items(front, front + n);
          else run_items(back - n, back);
          word = share.load(std::memory_order_relaxed);
        }
      }
    }
  });
}

std::vector<float>& split_scratch() {
  static thread_local std::vector<float> buf;
  return buf;
}

bool overlaps(const void* a, size_t an, const void* b, size_t bn) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  return an && bn && pa < pb + bn && pb < pa + an;
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PackedMatrix& w = unwrap_matrix(info[0], "w");
  const double md = number_arg(info[2], "m");
  if (!(md >= 0 && md <= 2147483647.0) || md != std::floor(md)) {
    throw Napi::RangeError::New(env, "m must be a non-negative integer, got " + std::to_string(md));
  }
  const int64_t m = static_cast<int64_t>(md);
  Span<float> x = typed_array<float>(info[1], "x", static_cast<size_t>(m * w.cols));
  // out: one [m][rows] array, or (matmulSplit) an array of [m][width_j] arrays taking the
  // output columns in order. Parts that are whole panels (16 columns; every q/k/v and gate/up
  // split of a real model) are stored into directly; otherwise the output is computed into
  // scratch and copied.
  std::vector<Span<float>> parts;
  Span<float> out;
  if (info[3].IsArray()) {
    Napi::Array list = info[3].As<Napi::Array>();
    int64_t total = 0;
    for (uint32_t j = 0; j < list.Length(); ++j) {
      Span<float> part = typed_array<float>(list.Get(j), "outs[j]");
      if (m > 0 && part.size % static_cast<size_t>(m) != 0) {
        throw Napi::RangeError::New(env, "outs[" + std::to_string(j) + "] has " + std::to_string(part.size) + " floats, not a multiple of m = " + std::to_string(m));
      }
      if (overlaps(part.data, part.size * 4, x.data, static_cast<size_t>(m * w.cols) * 4)) throw Napi::RangeError::New(env, "outs must not overlap x");
      for (const Span<float>& other : parts)
        if (overlaps(part.data, part.size * 4, other.data, other.size * 4)) throw Napi::RangeError::New(env, "outs must not overlap each other");
      total += m > 0 ? static_cast<int64_t>(part.size) / m : 0;
      parts.push_back(part);
    }
    if (m > 0 && total != w.rows) {
      throw Napi::RangeError::New(env, "outs widths sum to " + std::to_string(total) + " columns, the matrix has " + std::to_string(w.rows) + " rows");
    }
  } else {
    out = typed_array<float>(info[3], "out", static_cast<size_t>(m * w.rows));
  }
  const float* bias = nullptr;
  if (!info[4].IsNull() && !info[4].IsUndefined()) bias = typed_array<float>(info[4], "bias", static_cast<size_t>(w.rows)).data;
  const size_t x_bytes = static_cast<size_t>(m * w.cols) * 4, bias_bytes = static_cast<size_t>(w.rows) * 4;
  if (parts.empty()) {
    const size_t out_bytes = static_cast<size_t>(m * w.rows) * 4;
    if (overlaps(out.data, out_bytes, x.data, x_bytes) || (bias && overlaps(out.data, out_bytes, bias, bias_bytes))) {
      throw Napi::RangeError::New(env, "out must not overlap x or bias");
    }
  }
  for (const Span<float>& part : parts)
    if (bias && overlaps(part.data, part.size * 4, bias, bias_bytes)) throw Napi::RangeError::New(env, "outs must not overlap bias");
  if (m == 0) return env.Undefined();

  MatmulArgs a;
  a.w = &w;
  a.bias = bias;
  bool direct = parts.empty() || parts.size() <= static_cast<size_t>(MatmulArgs::kMaxParts);
  for (const Span<float>& part : parts) direct = direct && (static_cast<int64_t>(part.size) / m) % kPanelRows == 0;
  if (parts.empty()) {
    a.parts[0] = {out.data, w.rows, 0};
    a.num_parts = 1;
  } else if (direct) {
    int64_t panel = 0;
    for (const Span<float>& part : parts) {
      const int64_t width = static_cast<int64_t>(part.size) / m;
      a.parts[a.num_parts++] = {part.data, width, panel};
      panel += width / kPanelRows;
    }
  } else {
    std::vector<float>& buf = split_scratch();
    buf.resize(static_cast<size_t>(m * w.rows));
    out = Span<float>{buf.data(), buf.size()};
    a.parts[0] = {out.data, w.rows, 0};
    a.num_parts = 1;
  }
  const Kernel kern = pick_kernel(w, m);
  prepare_x(kern, w, x.data, m, a);
  run_tiles(kern, a, m);
  if (!direct) {
    int64_t col = 0;
    for (const Span<float>& part : parts) {
      const int64_t width = static_cast<int64_t>(part.size) / m;
      for (int64_t i = 0; i < m; ++i) std::memcpy(part.data + i * width, out.data + i * w.rows + col, static_cast<size_t>(width) * 4);
      col += width;
    }
  }
  return env.Undefined();
}

void RegisterMatmul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul));
}

}  // namespace

PENSIEVE_REGISTER(RegisterMatmul);

}  // namespace pensieve
