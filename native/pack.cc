// Moving weights into and out of the packed layouts of pack.h: packMatrix
// (file dtype → packed handle) and embedding (packed rows → f32). Packing runs
// once per weight at load time, so it favours exactness (it reproduces the TS
// reference's rounding bit for bit) over speed, and only parallelises over panels.
#include "pack.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "bf16.h"
#include "napi_util.h"
#include "parallel.h"
#include "q8.h"
#include "qlayout.h"

namespace pensieve {

namespace {

// A file dtype: f32, f16, bf16, or a GGML block type (q8_0 included).
struct SrcDType {
  enum Kind { F32, F16, BF16, Quant } kind;
  QType q = QType::Q8_0;
  bool is(QType t) const { return kind == Quant && q == t; }
};

// Names of the block types packMatrix can keep packed, for error messages.
const char* kQuantNames = "q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs";

constexpr size_t kHugePage = size_t{2} << 20;

// Weights of 2 MiB and more live in their own mapping, 2 MiB aligned and
// advised for transparent huge pages: a GEMV streams them once per token, and
// the hardware prefetchers stop at every page boundary, so 4 KiB pages cost
// DRAM bandwidth. The tail past the last whole huge page stays in small pages,
// so nothing is wasted. Smaller weights are plain 64-byte-aligned allocations.
uint8_t* allocate_weights(size_t bytes) {
  if (bytes < kHugePage) return static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  const size_t span = bytes + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = aligned + bytes, span_end = start + span;
  const uintptr_t page_end = (end + 4095) & ~uintptr_t{4095};
  if (span_end > page_end) munmap(reinterpret_cast<void*>(page_end), span_end - page_end);
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // advisory: failure only costs speed
  return reinterpret_cast<uint8_t*>(aligned);
}

void free_weights(uint8_t* data, size_t bytes) {
  if (data == nullptr) return;
  if (bytes < kHugePage) std::free(data);
  else munmap(data, bytes);
}

// Distinguishes our externals from any other native handle passed as `w`.
constexpr napi_type_tag kMatrixTag = {0x7e1c0a5b3d9f4c21ULL, 0x9a6e2f0b8c4d7153ULL};

SrcDType src_dtype_arg(const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "srcDtype must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "f32") return {SrcDType::F32};
  if (s == "f16") return {SrcDType::F16};
  if (s == "bf16") return {SrcDType::BF16};
  QType q;
  if (qtype_from_name(s.c_str(), &q)) return {SrcDType::Quant, q};
  throw Napi::TypeError::New(v.Env(), "srcDtype must be f32, f16, bf16 or one of " + std::string(kQuantNames) + ", got " + s);
}

struct DstDType {
  PackedDType dtype;
  QType q = QType::Q8_0;
};

DstDType dst_dtype_arg(const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "dstDtype must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "f32") return {PackedDType::F32};
  if (s == "bf16") return {PackedDType::BF16};
  if (s == "f16") return {PackedDType::F16};
  QType q;
  if (qtype_from_name(s.c_str(), &q)) return q == QType::Q8_0 ? DstDType{PackedDType::Q8_0} : DstDType{PackedDType::Quant, q};
  throw Napi::TypeError::New(v.Env(), "dstDtype must be f32, bf16, f16 or one of " + std::string(kQuantNames) + ", got " + s);
}

int64_t dim_arg(const Napi::Value& v, const char* name) {
  double d = number_arg(v, name);
  if (!(d >= 1 && d <= 2147483647.0) || d != std::floor(d)) {
    throw Napi::RangeError::New(v.Env(), std::string(name) + " must be an integer in [1, 2^31), got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Bytes of one source row.
size_t src_row_bytes(SrcDType dt, int64_t cols) {
  switch (dt.kind) {
    case SrcDType::F32: return static_cast<size_t>(cols) * 4;
    case SrcDType::F16:
    case SrcDType::BF16: return static_cast<size_t>(cols) * 2;
    case SrcDType::Quant: break;
  }
  const QTypeInfo& info = qinfo(dt.q);
  return static_cast<size_t>(cols / info.block_values) * info.block_bytes;
}

// Row r of the source as f32 values: the file's values exactly, block types
// dequantized as ggml does (qtypes.cc).
void decode_row(SrcDType dt, const uint8_t* data, int64_t r, int64_t cols, float* out) {
  switch (dt.kind) {
    case SrcDType::F32:
      std::memcpy(out, data + static_cast<size_t>(r * cols) * 4, static_cast<size_t>(cols) * 4);
      break;
    case SrcDType::F16: {
      const uint8_t* p = data + static_cast<size_t>(r * cols) * 2;
      for (int64_t k = 0; k < cols; ++k) out[k] = f16_to_f32(load_u16(p + 2 * k));
      break;
    }
    case SrcDType::BF16: {
      const uint8_t* p = data + static_cast<size_t>(r * cols) * 2;
      for (int64_t k = 0; k < cols; ++k) out[k] = bf16_to_f32(load_u16(p + 2 * k));
      break;
    }
    case SrcDType::Quant:
      dequantize_row(dt.q, data + static_cast<size_t>(r) * src_row_bytes(dt, cols), cols, out);
      break;
  }
}

// One 32-value block as GGML's q8_0, with the reference's arithmetic: d and
// 1/d in double, the stored scale rounded f64 → f32 → f16.
void quantize_weight_block(const float* v, uint16_t* scale, int8_t* q) {
  float amax = 0;
  for (int j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(v[j]));
  double d = static_cast<double>(amax) / 127.0;
  double id = d != 0 ? 1.0 / d : 0.0;
  for (int j = 0; j < kQ8Block; ++j) q[j] = q8_round(static_cast<double>(v[j]) * id);
  *scale = f32_to_f16(static_cast<float>(d));
}

void pack_panel(const PackedMatrix& w, SrcDType src, const uint8_t* data, int64_t p, std::vector<float>& row) {
  uint8_t* dst = w.data + static_cast<size_t>(p) * w.panel_bytes;
  std::memset(dst, 0, w.panel_bytes);
  const int64_t cols = w.cols;
  for (int l = 0; l < w.valid_rows(p); ++l) {
    const int64_t r = p * kPanelRows + l;
    if (w.dtype == PackedDType::Q8_0) {
      for (int64_t b = 0; b < w.k_steps; ++b) {
        uint8_t* blk = dst + static_cast<size_t>(b) * kQ8PanelBlockBytes;
        uint16_t scale;
        int8_t q[kQ8Block];
        if (src.is(QType::Q8_0)) {  // keep the file's bytes: no requantization
          const uint8_t* s = data + static_cast<size_t>(r * w.k_steps + b) * 34;
          scale = load_u16(s);
          std::memcpy(q, s + 2, kQ8Block);
        } else {
          if (b == 0) decode_row(src, data, r, cols, row.data());
          quantize_weight_block(row.data() + b * kQ8Block, &scale, q);
        }
        std::memcpy(blk + 2 * l, &scale, 2);
        for (int j = 0; j < kQ8Block; ++j) {
          blk[kQ8ScaleBytes + (j / 4) * 64 + l * 4 + (j % 4)] = static_cast<uint8_t>(q[j]) ^ 0x80u;
        }
      }
      continue;
    }
    if (w.dtype == PackedDType::Quant) {  // the file's blocks, rearranged (the source has the same type)
      const QLayout L = qlayout(w.qtype);
      const QTypeInfo& info = qinfo(w.qtype);
      const uint8_t* s = data + static_cast<size_t>(r) * src_row_bytes(src, cols);
      QBlock b;
      for (int64_t st = 0; st < w.k_steps; ++st, s += info.block_bytes) {
        read_file_block(w.qtype, s, &b);
        write_packed_block(w.qtype, b, l, dst + static_cast<size_t>(st) * L.step_bytes());
      }
      continue;
    }
    if (w.dtype == PackedDType::F16 && src.kind == SrcDType::F16) {  // the file's bits as they are
      const uint8_t* s = data + static_cast<size_t>(r * cols) * 2;
      uint16_t* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t k = 0; k < cols; ++k) h[k * kPanelRows + l] = load_u16(s + 2 * k);
      continue;
    }
    decode_row(src, data, r, cols, row.data());
    if (w.dtype == PackedDType::F16) {  // any other source: its values rounded to nearest even
      uint16_t* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t k = 0; k < cols; ++k) h[k * kPanelRows + l] = f32_to_f16(row[k]);
      continue;
    }
    if (w.dtype == PackedDType::F32) {
      float* f = reinterpret_cast<float*>(dst);
      for (int64_t k = 0; k < cols; ++k) f[k * kPanelRows + l] = row[k];
    } else {
      uint16_t* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t k = 0; k < cols; ++k) h[(k >> 1) * 2 * kPanelRows + l * 2 + (k & 1)] = f32_to_bf16(row[k]);
    }
  }
}

// Row n of a packed matrix as f32: the values matmul multiplies with.
void unpack_row(const PackedMatrix& w, int64_t n, float* out) {
  const uint8_t* panel = w.panel(n / kPanelRows);
  const int l = static_cast<int>(n % kPanelRows);
  switch (w.dtype) {
    case PackedDType::F32: {
      const float* f = reinterpret_cast<const float*>(panel);
      for (int64_t k = 0; k < w.cols; ++k) out[k] = f[k * kPanelRows + l];
      break;
    }
    case PackedDType::BF16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(panel);
      for (int64_t k = 0; k < w.cols; ++k) out[k] = bf16_to_f32(h[(k >> 1) * 2 * kPanelRows + l * 2 + (k & 1)]);
      break;
    }
    case PackedDType::F16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(panel);
      for (int64_t k = 0; k < w.cols; ++k) out[k] = f16_to_f32(h[k * kPanelRows + l]);
      break;
    }
    case PackedDType::Quant: {
      const QLayout L = qlayout(w.qtype);
      QBlock b;
      for (int64_t st = 0; st < w.k_steps; ++st) {
        read_packed_block(w.qtype, panel + static_cast<size_t>(st) * L.step_bytes(), l, &b);
        dequantize_qblock(w.qtype, b, out + st * L.step);
      }
      break;
    }
    case PackedDType::Q8_0:
      for (int64_t b = 0; b < w.k_steps; ++b) {
        const uint8_t* blk = panel + static_cast<size_t>(b) * kQ8PanelBlockBytes;
        float d = f16_to_f32(load_u16(blk + 2 * l));
        for (int j = 0; j < kQ8Block; ++j) {
          int8_t q = static_cast<int8_t>(blk[kQ8ScaleBytes + (j / 4) * 64 + l * 4 + (j % 4)] ^ 0x80u);
          out[b * kQ8Block + j] = d * static_cast<float>(q);
        }
      }
      break;
  }
}

Napi::Value PackMatrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Span<uint8_t> data = typed_array<uint8_t>(info[0], "data");
  SrcDType src = src_dtype_arg(info[1]);
  int64_t rows = dim_arg(info[2], "rows");
  int64_t cols = dim_arg(info[3], "cols");
  const DstDType dst_arg = dst_dtype_arg(info[4]);
  const PackedDType dst = dst_arg.dtype;
  const std::string src_name = info[1].As<Napi::String>().Utf8Value(), dst_name = info[4].As<Napi::String>().Utf8Value();

  // A block type is only kept as itself (the kernels take its integers as they are); to get
  // another packing, dequantize to f32/bf16/f16 or requantize to q8_0.
  if (dst == PackedDType::Quant && !src.is(dst_arg.q)) {
    throw Napi::TypeError::New(env, "a " + dst_name + " packing needs a " + dst_name + " source, got " + src_name + " (pack it as f32, bf16, f16 or q8_0)");
  }
  if (src.kind == SrcDType::Quant && cols % qinfo(src.q).block_values != 0) {
    throw Napi::RangeError::New(env, src_name + " needs cols divisible by " + std::to_string(qinfo(src.q).block_values) + ", got " + std::to_string(cols));
  }
  if (dst == PackedDType::Q8_0 && cols % kQ8Block != 0) {
    throw Napi::RangeError::New(env, "q8_0 needs cols divisible by 32, got " + std::to_string(cols));
  }
  // rows, cols < 2^31, so the products below fit in 64 bits.
  uint64_t need = static_cast<uint64_t>(rows) * src_row_bytes(src, cols);
  if (data.size != need) {
    throw Napi::RangeError::New(env, "data has " + std::to_string(data.size) + " bytes, a [" + std::to_string(rows) + "][" +
                                         std::to_string(cols) + "] matrix of " + info[1].As<Napi::String>().Utf8Value() +
                                         " needs " + std::to_string(need));
  }

  auto w = std::make_unique<PackedMatrix>();
  w->dtype = dst;
  w->qtype = dst_arg.q;
  w->rows = rows;
  w->cols = cols;
  w->panels = (rows + kPanelRows - 1) / kPanelRows;
  switch (dst) {
    case PackedDType::F32:
      w->k_steps = cols;
      w->panel_bytes = static_cast<size_t>(cols) * kPanelRows * 4;
      break;
    case PackedDType::BF16:
      w->k_steps = (cols + 1) / 2;
      w->panel_bytes = static_cast<size_t>(w->k_steps) * kPanelRows * 2 * 2;
      break;
    case PackedDType::Q8_0:
      w->k_steps = cols / kQ8Block;
      w->panel_bytes = static_cast<size_t>(w->k_steps) * kQ8PanelBlockBytes;
      break;
    case PackedDType::F16:
      w->k_steps = cols;
      w->panel_bytes = static_cast<size_t>(cols) * kPanelRows * 2;
      break;
    case PackedDType::Quant:
      w->k_steps = cols / qlayout(w->qtype).step;
      w->panel_bytes = static_cast<size_t>(w->k_steps) * qlayout(w->qtype).step_bytes();
      break;
  }
  w->bytes = static_cast<size_t>(w->panels) * w->panel_bytes;
  w->data = allocate_weights(w->bytes);
  if (w->data == nullptr) throw Napi::RangeError::New(env, "cannot allocate " + std::to_string(w->bytes) + " bytes for a packed matrix");

  const int64_t grain = std::max<int64_t>(1, 65536 / (kPanelRows * cols));
  const PackedMatrix& pm = *w;
  parallel_for(w->panels, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t p = begin; p < end; ++p) pack_panel(pm, src, data.data, p, row);
  });

  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(w->bytes));
  auto handle = Napi::External<PackedMatrix>::New(env, w.release(), [](Napi::Env env, PackedMatrix* m) {
    // The C call, not the C++ wrapper: while a worker's environment is torn down (process.exit
    // during a step) the adjustment fails, and the wrapper's throw from a finalizer would abort.
    int64_t adjusted = 0;
    napi_adjust_external_memory(env, -static_cast<int64_t>(m->bytes), &adjusted);
    delete m;
  });
  handle.TypeTag(&kMatrixTag);
  return handle;
}

Napi::Value Embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PackedMatrix& w = unwrap_matrix(info[0], "w");
  Span<int32_t> ids = typed_array<int32_t>(info[1], "ids");
  Span<float> out = typed_array<float>(info[2], "out", ids.size * static_cast<size_t>(w.cols));
  // Check every id before writing, so a bad batch leaves out untouched.
  for (size_t i = 0; i < ids.size; ++i) {
    if (ids.data[i] < 0 || ids.data[i] >= w.rows) {
      throw Napi::RangeError::New(env, "token id " + std::to_string(ids.data[i]) + " out of range [0, " + std::to_string(w.rows) + ")");
    }
  }
  for (size_t i = 0; i < ids.size; ++i) unpack_row(w, ids.data[i], out.data + i * static_cast<size_t>(w.cols));
  return env.Undefined();
}

// The formats packMatrix keeps weights in (every source dtype above can be packed as any of
// f32, bf16, f16, q8_0, and as itself).
Napi::Value PackedDtypes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (const char* name : {"f32", "bf16", "f16"}) out.Set(n++, name);
  for (const QTypeInfo& q : kQTypeInfo) out.Set(n++, q.name);
  return out;
}

// Bytes the packed matrix holds in memory (panels of 16 rows, so a partial last panel counts whole).
Napi::Value PackedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(unwrap_matrix(info[0], "w").bytes));
}

void RegisterPack(Napi::Env env, Napi::Object exports) {
  exports.Set("packMatrix", Napi::Function::New(env, PackMatrix));
  exports.Set("packedDtypes", Napi::Function::New(env, PackedDtypes));
  exports.Set("packedBytes", Napi::Function::New(env, PackedBytes));
  exports.Set("embedding", Napi::Function::New(env, Embedding));
}

}  // namespace

PackedMatrix::~PackedMatrix() { free_weights(data, bytes); }

const char* packed_dtype_name(const PackedMatrix& w) {
  switch (w.dtype) {
    case PackedDType::F32: return "f32";
    case PackedDType::BF16: return "bf16";
    case PackedDType::F16: return "f16";
    case PackedDType::Quant: return qinfo(w.qtype).name;
    default: return "q8_0";
  }
}

const PackedMatrix& unwrap_matrix(const Napi::Value& v, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<PackedMatrix>>().CheckTypeTag(&kMatrixTag)) {
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a matrix handle returned by packMatrix");
  }
  return *v.As<Napi::External<PackedMatrix>>().Data();
}

PENSIEVE_REGISTER(RegisterPack);

}  // namespace pensieve
