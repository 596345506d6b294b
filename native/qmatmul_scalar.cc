// Portable kernel for the GGML block types: the plain statement of what the
// SIMD kernels (qmatmul_avx512.cc, qmatmul_avx2.cc) compute. Each panel step's
// 16 rows are read back into QBlocks once (qlayout.cc), then every row of the
// tile takes exact integer dots per sub-block, scaled as the SIMD kernels do.

#include "bf16.h"
#include "matmul.h"
#include "qlayout.h"

namespace pensieve {

namespace {

// Sub-block `sub`'s scale and min of a row: W = s·u + mv (exact f32 products, as in the SIMD kernels).
void sub_scales(QType t, const QBlock& b, int sub, float* s, float* mv) {
  const float d = f16_to_f32(b.d);
  *mv = 0;
  switch (t) {
    case QType::Q4_K:
    case QType::Q5_K:
    case QType::Q2_K:
      *s = d * static_cast<float>(b.sc[sub]);
      *mv = -(f16_to_f32(b.m) * static_cast<float>(b.mn[sub]));
      break;
    case QType::Q6_K:
    case QType::Q3_K:
    case QType::IQ4_XS: *s = d * static_cast<float>(b.sc[sub]); break;
    case QType::Q4_1:
    case QType::Q5_1:
      *s = d;
      *mv = f16_to_f32(b.m);
      break;
    default: *s = d;
  }
}

template <QType T>
struct QTile {
  static constexpr QLayout L = qlayout(T);

  template <int MR>
  static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const uint8_t* panel = a.w->panel(p);
    const int64_t nb = a.xblocks;
    const int sub_len = L.sub16 ? 16 : 32;
    float acc[MR][kPanelRows] = {};
    QBlock rows[kPanelRows];
    for (int64_t st = 0; st < a.w->k_steps; ++st) {
      for (int l = 0; l < kPanelRows; ++l) read_packed_block(T, panel + st * L.step_bytes(), l, &rows[l]);
      for (int v0 = 0; v0 < L.step; v0 += sub_len) {
        const int sub = v0 / sub_len;
        const int64_t b = (st * L.step + v0) / 32;  // the 32-block of x
        const int half = (v0 % 32) / 16;
        for (int l = 0; l < kPanelRows; ++l) {
          float s, mv;
          sub_scales(T, rows[l], sub, &s, &mv);
          for (int i = 0; i < MR; ++i) {
            const int8_t* x = static_cast<const int8_t*>(a.x) + (r + i) * a.ldx + st * L.step + v0;
            int32_t dot = 0;
            for (int k = 0; k < sub_len; ++k) {
              const int u = rows[l].u[v0 + k];
              dot += (L.table ? kIq4nlValues[u] : L.has_min ? u : u - L.offset) * x[k];
            }
            const float dx = a.xd[(r + i) * nb + b];
            acc[i][l] += static_cast<float>(dot) * (s * dx);
            if (L.has_min) acc[i][l] += mv * (L.sub16 ? a.xdsum16[(r + i) * 2 * nb + 2 * b + half] : a.xdsum[(r + i) * nb + b]);
          }
        }
      }
    }
    const int valid = a.w->valid_rows(p);
    int64_t ld;
    float* out = a.out_at(p, r, &ld);
    for (int i = 0; i < MR; ++i) {
      for (int l = 0; l < valid; ++l) out[i * ld + l] = acc[i][l] + (a.bias ? a.bias[p * kPanelRows + l] : 0.0f);
    }
  }
};

template <QType T>
void tile(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<QTile<T>, kRowsScalar>(a, p0, p1, r0, r1);
}

}  // namespace

MatmulTileFn quant_tile_scalar(QType t) {
  return with_qlayout_type(t, [](auto type) -> MatmulTileFn { return tile<decltype(type)::value>; });
}

}  // namespace pensieve
