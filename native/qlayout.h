// The packed layouts of the GGML block types (all but q8_0, whose layout is in
// pack.h): 16-row panels like q8_0's, one "step" of 32 (legacy, iq4_nl) or 256
// (K-quants, iq4_xs) values along K at a time. A step is
//   meta   per-row scales, structure of arrays so one load serves 16 rows:
//            f16 d[16]; f16 m[16] (q4_1/q5_1 min, K-quant dmin) when the type has one;
//            then one byte per row per sub-block (kSubs of them): the QBlock's sc, or for
//            q4_K/q5_K sc[8][16] then mn[8][16], or for q2_K the file's (sc | mn << 4) byte
//   blocks per 32 values, the bit planes of u (u8 weights for vpdpbusd):
//            N4 (256 B): 4 × [16 rows][4 bytes]; byte b of row l in chunk t holds
//                u[4t + b] in its low nibble and u[16 + 4t + b] in its high nibble
//            P2 (128 B): 2 × [16 rows][4 bytes]; chunk h, byte b, bits 2t..2t+1 hold
//                two bits of u[4(4h + t) + b], shifted to kP2Shift in u
//            H1 (64 B): [16 rows][4 bytes]; byte b, bit t holds one bit of u[4t + b],
//                shifted to kH1Shift in u
// So for each group g of 4 consecutive k (g = 0..7), one 64-byte vector holds 16 rows × 4 u8
// after a few shifts and masks: the operand layout of vpdpbusd. Bytes per 256 values per row
// (file in brackets): q4_0 144 [144], q4_1 160 [160], q5_0 176 [176], q5_1 192 [192],
// iq4_nl 144 [144], q2_K 84 [84], q3_K 114 [110], q4_K 148 [144], q5_K 180 [176],
// q6_K 210 [210], iq4_xs 138 [136].
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qtypes.h"

namespace pensieve {

struct QLayout {
  int step;         // values per step: 32 or 256
  bool has_min;     // W = s·u + mv (else W = s·(u − offset))
  bool sub16;       // sub-blocks of 16 values (else 32)
  int offset;       // c of W = s·(u − c)
  bool n4, p2, h1;  // which bit planes
  int p2_shift, h1_shift;
  bool table;       // iq4: u = kIq4nlValues[nibble] + 128
  bool m16;         // meta has the second f16 array
  int subs;         // sub-block bytes per row in meta (0: scale d only)

  constexpr int blocks() const { return step / 32; }
  constexpr size_t sub_offset() const { return m16 ? 64 : 32; }
  constexpr size_t meta_bytes() const { return sub_offset() + static_cast<size_t>(subs) * 16; }
  constexpr size_t n4_offset() const { return 0; }
  constexpr size_t p2_offset() const { return n4 ? 256 : 0; }
  constexpr size_t h1_offset() const { return p2_offset() + (p2 ? 128 : 0); }
  constexpr size_t block_bytes() const { return h1_offset() + (h1 ? 64 : 0); }
  constexpr size_t step_bytes() const { return meta_bytes() + static_cast<size_t>(blocks()) * block_bytes(); }
};

constexpr QLayout qlayout(QType t) {
  switch (t) {
    //                    step  min    sub16  c    n4    p2     h1     p2s h1s table  m16    subs
    case QType::Q4_0: return {32, false, false, 8, true, false, false, 0, 0, false, false, 0};
    case QType::Q4_1: return {32, true, false, 0, true, false, false, 0, 0, false, true, 0};
    case QType::Q5_0: return {32, false, false, 16, true, false, true, 0, 4, false, false, 0};
    case QType::Q5_1: return {32, true, false, 0, true, false, true, 0, 4, false, true, 0};
    case QType::IQ4_NL: return {32, false, false, 128, true, false, false, 0, 0, true, false, 0};
    case QType::Q2_K: return {256, true, true, 0, false, true, false, 0, 0, false, true, 16};
    case QType::Q3_K: return {256, false, true, 4, false, true, true, 0, 2, false, false, 16};
    case QType::Q4_K: return {256, true, false, 0, true, false, false, 0, 0, false, true, 16};
    case QType::Q5_K: return {256, true, false, 0, true, false, true, 0, 4, false, true, 16};
    case QType::Q6_K: return {256, false, true, 32, true, true, false, 4, 0, false, false, 16};
    case QType::IQ4_XS: return {256, false, false, 128, true, false, false, 0, 0, true, false, 8};
    case QType::Q8_0: break;  // its own layout (pack.h)
  }
  return {32, false, false, 0, false, false, false, 0, 0, false, false, 0};
}

// The iq4 codebook biased to unsigned, as the kernels' u.
constexpr uint8_t iq4_u(int code) { return static_cast<uint8_t>(kIq4nlValues[code] + 128); }

// pick(std::integral_constant<QType, T>{}) for the block type t whose layout this file
// describes (every QType but q8_0, which has its own: a value-initialised result). Each ISA's
// kernel file turns its kernel template into a per-type function pointer through this one switch.
template <class Pick>
auto with_qlayout_type(QType t, Pick pick) -> decltype(pick(std::integral_constant<QType, QType::Q4_0>{})) {
  switch (t) {
    case QType::Q4_0: return pick(std::integral_constant<QType, QType::Q4_0>{});
    case QType::Q4_1: return pick(std::integral_constant<QType, QType::Q4_1>{});
    case QType::Q5_0: return pick(std::integral_constant<QType, QType::Q5_0>{});
    case QType::Q5_1: return pick(std::integral_constant<QType, QType::Q5_1>{});
    case QType::Q2_K: return pick(std::integral_constant<QType, QType::Q2_K>{});
    case QType::Q3_K: return pick(std::integral_constant<QType, QType::Q3_K>{});
    case QType::Q4_K: return pick(std::integral_constant<QType, QType::Q4_K>{});
    case QType::Q5_K: return pick(std::integral_constant<QType, QType::Q5_K>{});
    case QType::Q6_K: return pick(std::integral_constant<QType, QType::Q6_K>{});
    case QType::IQ4_NL: return pick(std::integral_constant<QType, QType::IQ4_NL>{});
    case QType::IQ4_XS: return pick(std::integral_constant<QType, QType::IQ4_XS>{});
    case QType::Q8_0: break;
  }
  return {};
}

// The per-group helpers of the SIMD kernels must inline into the tile: their array arguments
// (dots, pair sums) then live in registers; out of line they go through memory.
#define PENSIEVE_Q_INLINE inline __attribute__((always_inline))

// Writes row l's QBlock into a packed step (the other rows' bytes untouched).
void write_packed_block(QType t, const QBlock& b, int l, uint8_t* step);
// Reads row l's QBlock back from a packed step (u as the file's code: iq4 nibbles, not table values).
void read_packed_block(QType t, const uint8_t* step, int l, QBlock* b);

}  // namespace pensieve
