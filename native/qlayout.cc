// QBlock ↔ packed step (qlayout.h). Packing runs once per weight at load, so
// this is plain per-value code; the kernels read the planes vector-wide.
#include "qlayout.h"

#include <cstring>

namespace pensieve {

namespace {

// Where value k (0..31) of a 32-block sits in a plane: 4-k group g, byte b in a row's 4 bytes.
struct Pos {
  int g, b;
};
inline Pos pos(int k) { return {k / 4, k % 4}; }

uint8_t sub_byte(QType t, const QBlock& b, int i) {
  switch (t) {
    case QType::Q4_K:
    case QType::Q5_K: return static_cast<uint8_t>(i < 8 ? b.sc[i] : b.mn[i - 8]);
    case QType::Q2_K: return static_cast<uint8_t>(b.sc[i] | (b.mn[i] << 4));
    default: return static_cast<uint8_t>(static_cast<int8_t>(b.sc[i]));
  }
}

void set_sub(QType t, QBlock* b, int i, uint8_t v) {
  switch (t) {
    case QType::Q4_K:
    case QType::Q5_K:
      if (i < 8) b->sc[i] = v;
      else b->mn[i - 8] = v;
      break;
    case QType::Q2_K:
      b->sc[i] = v & 0xF;
      b->mn[i] = v >> 4;
      break;
    default: b->sc[i] = static_cast<int8_t>(v);
  }
}

}  // namespace

void write_packed_block(QType t, const QBlock& b, int l, uint8_t* step) {
  const QLayout L = qlayout(t);
  std::memcpy(step + 2 * l, &b.d, 2);
  if (L.m16) std::memcpy(step + 32 + 2 * l, &b.m, 2);
  for (int i = 0; i < L.subs; ++i) step[L.sub_offset() + 16 * i + l] = sub_byte(t, b, i);
  for (int j = 0; j < L.blocks(); ++j) {
    uint8_t* blk = step + L.meta_bytes() + j * L.block_bytes();
    for (int k = 0; k < 32; ++k) {
      const int u = b.u[32 * j + k];
      const Pos p = pos(k);
      if (L.n4) {
        uint8_t& byte = blk[L.n4_offset() + (p.g % 4) * 64 + 4 * l + p.b];
        byte = static_cast<uint8_t>(p.g < 4 ? (byte & 0xF0) | (u & 0xF) : (byte & 0x0F) | ((u & 0xF) << 4));
      }
      if (L.p2) {
        uint8_t& byte = blk[L.p2_offset() + (p.g / 4) * 64 + 4 * l + p.b];
        const int sh = 2 * (p.g % 4);
        byte = static_cast<uint8_t>((byte & ~(3 << sh)) | (((u >> L.p2_shift) & 3) << sh));
      }
      if (L.h1) {
        uint8_t& byte = blk[L.h1_offset() + 4 * l + p.b];
        byte = static_cast<uint8_t>((byte & ~(1 << p.g)) | (((u >> L.h1_shift) & 1) << p.g));
      }
    }
  }
}

void read_packed_block(QType t, const uint8_t* step, int l, QBlock* b) {
  const QLayout L = qlayout(t);
  std::memcpy(&b->d, step + 2 * l, 2);
  if (L.m16) std::memcpy(&b->m, step + 32 + 2 * l, 2);
  for (int i = 0; i < L.subs; ++i) set_sub(t, b, i, step[L.sub_offset() + 16 * i + l]);
  for (int j = 0; j < L.blocks(); ++j) {
    const uint8_t* blk = step + L.meta_bytes() + j * L.block_bytes();
    for (int k = 0; k < 32; ++k) {
      const Pos p = pos(k);
      int u = 0;
      if (L.n4) {
        const uint8_t byte = blk[L.n4_offset() + (p.g % 4) * 64 + 4 * l + p.b];
        u |= p.g < 4 ? byte & 0xF : byte >> 4;
      }
      if (L.p2) u |= ((blk[L.p2_offset() + (p.g / 4) * 64 + 4 * l + p.b] >> (2 * (p.g % 4))) & 3) << L.p2_shift;
      if (L.h1) u |= ((blk[L.h1_offset() + 4 * l + p.b] >> p.g) & 1) << L.h1_shift;
      b->u[32 * j + k] = static_cast<uint8_t>(u);
    }
  }
}

}  // namespace pensieve
