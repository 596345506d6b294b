// File blocks → QBlock, and QBlock → f32 with ggml's arithmetic (see qtypes.h).
// Formulas follow ggml/src/ggml-quants.c dequantize_row_*; each comment names
// the expression it reproduces, because the order of the f32 operations is
// what makes the results equal bit for bit.
#include "qtypes.h"

#include <cstring>

#include "bf16.h"

namespace pensieve {

namespace {

uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// ggml's get_scale_min_k4: the j-th 6-bit scale and min of q4_K / q5_K.
void scale_min_k4(int j, const uint8_t* q, int16_t* d, int16_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<int16_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<int16_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Nibble layout of the 32-value legacy blocks (and each 32 of iq4_xs): value v < 16 in the
// low nibble of qs[v], v ≥ 16 in the high nibble of qs[v − 16].
void nibbles32(const uint8_t* qs, uint8_t* u) {
  for (int v = 0; v < 16; ++v) {
    u[v] = qs[v] & 0xF;
    u[v + 16] = qs[v] >> 4;
  }
}

}  // namespace

bool qtype_from_name(const char* name, QType* out) {
  for (int i = 0; i < kNumQTypes; ++i) {
    if (std::strcmp(name, kQTypeInfo[i].name) == 0) {
      *out = static_cast<QType>(i);
      return true;
    }
  }
  return false;
}

int qtype_offset(QType t) {
  switch (t) {
    case QType::Q4_0: return 8;
    case QType::Q5_0: return 16;
    case QType::Q8_0: return 128;
    case QType::Q6_K: return 32;
    case QType::Q3_K: return 4;
    case QType::IQ4_NL:
    case QType::IQ4_XS: return 128;  // u is the table value + 128 in the kernels
    default: return 0;
  }
}

void read_file_block(QType t, const uint8_t* s, QBlock* b) {
  switch (t) {
    case QType::Q4_0:
    case QType::IQ4_NL:
      b->d = rd16(s);
      nibbles32(s + 2, b->u);
      break;
    case QType::Q4_1:
      b->d = rd16(s);
      b->m = rd16(s + 2);
      nibbles32(s + 4, b->u);
      break;
    case QType::Q5_0:
    case QType::Q5_1: {
      const int o = t == QType::Q5_1 ? 2 : 0;
      b->d = rd16(s);
      if (o) b->m = rd16(s + 2);
      uint32_t qh;
      std::memcpy(&qh, s + 2 + o, 4);
      nibbles32(s + 6 + o, b->u);
      // ggml: xh_0 = ((qh >> j) << 4) & 0x10, xh_1 = (qh >> (j + 12)) & 0x10: value v's 5th bit is bit v.
      for (int v = 0; v < 32; ++v) b->u[v] |= static_cast<uint8_t>(((qh >> v) & 1u) << 4);
      break;
    }
    case QType::Q8_0:
      b->d = rd16(s);
      for (int v = 0; v < 32; ++v) b->u[v] = static_cast<uint8_t>(static_cast<int8_t>(s[2 + v]) + 128);
      break;
    case QType::Q2_K: {
      const uint8_t* scales = s;
      const uint8_t* qs = s + 16;
      b->d = rd16(s + 80);
      b->m = rd16(s + 82);
      for (int i = 0; i < 16; ++i) {
        b->sc[i] = scales[i] & 0xF;
        b->mn[i] = scales[i] >> 4;
      }
      for (int v = 0; v < 256; ++v) {
        const int n = v / 128, r = v % 128, shift = 2 * (r / 32), l = r % 32;
        b->u[v] = (qs[32 * n + l] >> shift) & 3;
      }
      break;
    }
    case QType::Q3_K: {
      const uint8_t* hm = s;
      const uint8_t* qs = s + 32;
      b->d = rd16(s + 108);
      // ggml's aux[] unpacking of the twelve 6-bit scales.
      uint32_t aux[4];
      std::memcpy(aux, s + 96, 12);
      const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
      const uint32_t tmp = aux[2];
      aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
      aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
      aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
      aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
      int8_t sc8[16];
      std::memcpy(sc8, aux, 16);
      for (int i = 0; i < 16; ++i) b->sc[i] = static_cast<int16_t>(sc8[i] - 32);
      // ggml: q − ((hm & m) ? 0 : 4), so u = q + 4·h with offset 4.
      for (int v = 0; v < 256; ++v) {
        const int n = v / 128, r = v % 128, j = r / 32, l = r % 32;
        const int q = (qs[32 * n + l] >> (2 * j)) & 3;
        const int h = (hm[l] >> (4 * n + j)) & 1;
        b->u[v] = static_cast<uint8_t>(q + 4 * h);
      }
      break;
    }
    case QType::Q4_K:
    case QType::Q5_K: {
      b->d = rd16(s);
      b->m = rd16(s + 2);
      const uint8_t* scales = s + 4;
      for (int i = 0; i < 8; ++i) scale_min_k4(i, scales, &b->sc[i], &b->mn[i]);
      const bool five = t == QType::Q5_K;
      const uint8_t* qh = s + 16;
      const uint8_t* qs = s + (five ? 48 : 16);
      for (int v = 0; v < 256; ++v) {
        const int c = v / 64, l = v % 32;
        const uint8_t q = qs[32 * c + l];
        int u = (v % 64) < 32 ? (q & 0xF) : (q >> 4);
        // ggml: qh[l] & u1 (u1 = 1 << 2c) for the first 32 of a 64, u2 = 2 << 2c for the second.
        if (five) u += ((qh[l] >> (v / 32)) & 1) << 4;
        b->u[v] = static_cast<uint8_t>(u);
      }
      break;
    }
    case QType::Q6_K: {
      const uint8_t* ql = s;
      const uint8_t* qh = s + 128;
      const int8_t* scales = reinterpret_cast<const int8_t*>(s + 192);
      b->d = rd16(s + 208);
      for (int i = 0; i < 16; ++i) b->sc[i] = scales[i];
      for (int v = 0; v < 256; ++v) {
        const int n = v / 128, r = v % 128, l = r % 32, k = r / 32;
        const uint8_t lo = ql[64 * n + l + (k & 1) * 32];
        const int q = (k < 2 ? (lo & 0xF) : (lo >> 4)) | (((qh[32 * n + l] >> (2 * k)) & 3) << 4);
        b->u[v] = static_cast<uint8_t>(q);
      }
      break;
    }
    case QType::IQ4_XS: {
      b->d = rd16(s);
      const uint16_t scales_h = rd16(s + 2);
      const uint8_t* scales_l = s + 4;
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((scales_h >> (2 * ib)) & 3) << 4);
        b->sc[ib] = static_cast<int16_t>(ls - 32);
        nibbles32(s + 8 + 16 * ib, b->u + 32 * ib);
      }
      break;
    }
  }
}

void dequantize_qblock(QType t, const QBlock& b, float* y) {
  const float d = f16_to_f32(b.d);
  switch (t) {
    case QType::Q4_0:
    case QType::Q5_0:
    case QType::Q8_0: {
      const int c = qtype_offset(t);
      for (int v = 0; v < 32; ++v) y[v] = static_cast<float>(b.u[v] - c) * d;  // x0*d
      break;
    }
    case QType::Q4_1:
    case QType::Q5_1: {
      const float m = f16_to_f32(b.m);
      for (int v = 0; v < 32; ++v) y[v] = static_cast<float>(b.u[v]) * d + m;  // x0*d + m
      break;
    }
    case QType::IQ4_NL:
      for (int v = 0; v < 32; ++v) y[v] = d * static_cast<float>(kIq4nlValues[b.u[v]]);  // d * kvalues[q]
      break;
    case QType::IQ4_XS:
      for (int ib = 0; ib < 8; ++ib) {
        const float dl = d * static_cast<float>(b.sc[ib]);  // d * (ls - 32)
        for (int j = 0; j < 32; ++j) y[32 * ib + j] = dl * static_cast<float>(kIq4nlValues[b.u[32 * ib + j]]);
      }
      break;
    case QType::Q4_K:
    case QType::Q5_K: {
      const float dmin = f16_to_f32(b.m);
      for (int i = 0; i < 8; ++i) {
        const float d1 = d * static_cast<float>(b.sc[i]), m1 = dmin * static_cast<float>(b.mn[i]);  // d * sc, min * m
        for (int j = 0; j < 32; ++j) y[32 * i + j] = d1 * static_cast<float>(b.u[32 * i + j]) - m1;
      }
      break;
    }
    case QType::Q6_K:
      for (int v = 0; v < 256; ++v) y[v] = d * static_cast<float>(b.sc[v / 16]) * static_cast<float>(b.u[v] - 32);  // d * sc * q
      break;
    case QType::Q3_K:
      for (int i = 0; i < 16; ++i) {
        const float dl = d * static_cast<float>(b.sc[i]);  // d_all * (scales - 32)
        for (int j = 0; j < 16; ++j) y[16 * i + j] = dl * static_cast<float>(b.u[16 * i + j] - 4);
      }
      break;
    case QType::Q2_K: {
      const float dmin = f16_to_f32(b.m);
      for (int i = 0; i < 16; ++i) {
        const float dl = d * static_cast<float>(b.sc[i]), ml = dmin * static_cast<float>(b.mn[i]);
        for (int j = 0; j < 16; ++j) y[16 * i + j] = dl * static_cast<float>(b.u[16 * i + j]) - ml;
      }
      break;
    }
  }
}

void dequantize_row(QType t, const uint8_t* src, int64_t cols, float* out) {
  const QTypeInfo& info = qinfo(t);
  QBlock b;
  for (int64_t k = 0; k < cols; k += info.block_values, src += info.block_bytes, out += info.block_values) {
    read_file_block(t, src, &b);
    dequantize_qblock(t, b, out);
  }
}

}  // namespace pensieve
