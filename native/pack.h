// Packed weight layouts for matmul and embedding.
//
// A weight W [rows][cols] (rows = output features N, cols = K) is cut into
// panels of 16 output rows; a panel is contiguous and panels follow each other,
// so a thread computing a range of output columns reads one sequential stream
// (what a memory-bound GEMV needs). Inside a panel the 16 rows are interleaved
// at the granularity the dot instruction consumes, so one 64-byte vector holds
// the same k-slice of all 16 rows and a broadcast x value feeds 16 outputs:
//
//   f32  : [panels][cols][16]                 one f32 per row per k      (FMA)
//   bf16 : [panels][ceil(cols/2)][16][2]      a k-pair per row            (vdpbf16ps)
//   q8_0 : [panels][cols/32] block of 544 B:  f16 scale[16], then
//          u8 q[8][16][4] = int8 q XOR 0x80   4 consecutive k per row     (vpdpbusd)
//   f16  : [panels][cols][16]                 f16 bits, one per row per k (vcvtph2ps + FMA)
//   other GGML block types (q4_0 … iq4_xs): [panels][cols/step] steps, see qlayout.h
//
// Rows past N in the last panel, and the odd k of bf16, are zero padding.
// q8_0 weights are stored biased to unsigned (q + 128) because vpdpbusd takes
// unsigned × signed bytes; Σ (q_w+128)·q_x = Σ q_w·q_x + 128·Σ q_x, and the
// correction only depends on the activations, so the weights stream no extra
// bytes (the bias trick applied to the other operand would need a per-row sum).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "qtypes.h"

namespace pensieve {

// Quant: any GGML block type but q8_0 (PackedMatrix::qtype says which), in qlayout.h's layout.
enum class PackedDType { F32, BF16, Q8_0, F16, Quant };

constexpr int kPanelRows = 16;
constexpr int kQ8Block = 32;
constexpr int kQ8Groups = kQ8Block / 4;                                  // 4-k groups per block
constexpr size_t kQ8ScaleBytes = kPanelRows * 2;                         // 16 f16 scales
constexpr size_t kQ8PanelBlockBytes = kQ8ScaleBytes + kPanelRows * kQ8Block;  // 544

struct PackedMatrix {
  PackedDType dtype;
  QType qtype = QType::Q8_0;  // Quant only
  int64_t rows = 0;    // N, output features
  int64_t cols = 0;    // K
  int64_t panels = 0;  // ceil(rows / 16)
  // Steps along K inside a panel: f32/f16 cols, bf16 k-pairs, q8_0 32-blocks, Quant steps.
  int64_t k_steps = 0;
  size_t panel_bytes = 0;
  size_t bytes = 0;
  uint8_t* data = nullptr;  // 64-byte aligned, owned

  const uint8_t* panel(int64_t p) const { return data + static_cast<size_t>(p) * panel_bytes; }
  // Output rows of panel p that are real (the last panel may be partial).
  int valid_rows(int64_t p) const {
    int64_t left = rows - p * kPanelRows;
    return static_cast<int>(left < kPanelRows ? left : kPanelRows);
  }

  PackedMatrix() = default;
  PackedMatrix(const PackedMatrix&) = delete;
  PackedMatrix& operator=(const PackedMatrix&) = delete;
  ~PackedMatrix();
};

const char* packed_dtype_name(const PackedMatrix& w);

// The PackedMatrix behind a handle returned by packMatrix; throws a TypeError
// naming the argument when the value is anything else.
const PackedMatrix& unwrap_matrix(const Napi::Value& v, const char* name);

}  // namespace pensieve
