// GGML's quantized block formats: their file layouts (mirroring ggml-common.h
// and the constants of src/kernels/dtype.ts), a common integer form of one
// row's block (QBlock), and the exact dequantization of that form.
//
// Every type is, per sub-block of 16 or 32 values, W = s·u + mv with u a small
// unsigned integer and s, mv exact f32 numbers (or W = s·(u − c) with a
// constant c), which is what lets the kernels take exact integer dots against
// int8 activations and combine them in f32. QBlock holds u and the raw
// integer scales; dequantize_qblock evaluates ggml's dequantize_row_* with the
// same f32 operations in the same order, so results are equal bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pensieve {

enum class QType { Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS };
constexpr int kNumQTypes = 12;

// ggml's non-linear 4-bit codebook of IQ4_NL / IQ4_XS.
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

struct QTypeInfo {
  const char* name;    // ggml's name, lower case with K upper (as dtype.ts)
  int block_values;    // values per file block: 32 or 256
  int block_bytes;     // bytes per file block
};

constexpr QTypeInfo kQTypeInfo[kNumQTypes] = {
    {"q4_0", 32, 18},    {"q4_1", 32, 20},    {"q5_0", 32, 22},     {"q5_1", 32, 24},   {"q8_0", 32, 34},   {"q2_K", 256, 84},
    {"q3_K", 256, 110},  {"q4_K", 256, 144},  {"q5_K", 256, 176},   {"q6_K", 256, 210}, {"iq4_nl", 32, 18}, {"iq4_xs", 256, 136},
};

inline const QTypeInfo& qinfo(QType t) { return kQTypeInfo[static_cast<int>(t)]; }

// The type named `name`, or false.
bool qtype_from_name(const char* name, QType* out);

// One row's file block as integers. Which fields a type uses:
//   u[v]        every type: the unsigned quant of value v (iq4: the 4-bit code, not the table value)
//   d           f16 bits of the (super-)block scale
//   m           f16 bits: q4_1/q5_1 min, K-quants' dmin
//   sc[i]       per sub-block scale as an integer: q4_K/q5_K 6-bit sc (i < 8), q6_K int8,
//               q3_K (6-bit − 32), q2_K (byte & 15), iq4_xs (6-bit − 32)
//   mn[i]       per sub-block min: q4_K/q5_K 6-bit m, q2_K byte >> 4
struct QBlock {
  uint8_t u[256];
  uint16_t d = 0, m = 0;
  int16_t sc[16] = {};
  int16_t mn[16] = {};
};

// Parses one file block of type t.
void read_file_block(QType t, const uint8_t* src, QBlock* b);
// ggml's dequantize_row_* of one block: qinfo(t).block_values floats.
void dequantize_qblock(QType t, const QBlock& b, float* out);
// The constant c of W = s·(u − c) for types without a min (0 for those with one).
int qtype_offset(QType t);

// A whole file row (cols values) as f32, exactly as ggml dequantizes it.
void dequantize_row(QType t, const uint8_t* src, int64_t cols, float* out);

}  // namespace pensieve
