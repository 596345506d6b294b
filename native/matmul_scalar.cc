// Portable matmul kernels over the packed layouts (pack.h): the fallback for
// CPUs without AVX2 and the plain statement of what the SIMD kernels compute.
// Same tiling as the SIMD paths (a panel of 16 outputs × up to 4 rows of x),
// so the compiler's baseline SSE2 vectorisation of the 16-lane loops is cheap.
#include <algorithm>
#include <cmath>

#include "bf16.h"
#include "matmul.h"
#include "q8.h"

namespace pensieve {

namespace {

template <int MR>
void store_tile(const MatmulArgs& a, int64_t p, int64_t r, const float (&acc)[MR][kPanelRows]) {
  const int valid = a.w->valid_rows(p);
  const float* bias = a.bias ? a.bias + p * kPanelRows : nullptr;
  int64_t ld;
  float* out = a.out_at(p, r, &ld);
  for (int i = 0; i < MR; ++i) {
    float* o = out + i * ld;
    for (int l = 0; l < valid; ++l) o[l] = acc[i][l] + (bias ? bias[l] : 0.0f);
  }
}

// A panel weight as f32: f32 panels hold it, f16 panels widen it.
inline float weight_at(const float* w, int64_t i) { return w[i]; }
inline float weight_at(const uint16_t* w, int64_t i) { return f16_to_f32(w[i]); }

// f32 and f16 panels ([cols][16], W the stored type): x stays f32, f32 accumulation.
template <class W>
struct FloatTile {
  template <int MR>
  static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const W* w = reinterpret_cast<const W*>(a.w->panel(p));
    const float* x = static_cast<const float*>(a.x) + r * a.ldx;
    float acc[MR][kPanelRows] = {};
    for (int64_t k = 0; k < a.w->cols; ++k) {
      float wk[kPanelRows];
      for (int l = 0; l < kPanelRows; ++l) wk[l] = weight_at(w, k * kPanelRows + l);
      for (int i = 0; i < MR; ++i) {
        const float xv = x[i * a.ldx + k];
        for (int l = 0; l < kPanelRows; ++l) acc[i][l] += wk[l] * xv;
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

// x holds the bf16-rounded activations as f32, so products match vdpbf16ps's.
struct Bf16Tile {
  template <int MR>
  static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(a.w->panel(p));
    const float* x = static_cast<const float*>(a.x) + r * a.ldx;
    float acc[MR][kPanelRows] = {};
    for (int64_t kk = 0; kk < a.w->k_steps; ++kk) {
      const uint16_t* wk = w + kk * 2 * kPanelRows;
      float w0[kPanelRows], w1[kPanelRows];
      for (int l = 0; l < kPanelRows; ++l) {
        w0[l] = bf16_to_f32(wk[2 * l]);
        w1[l] = bf16_to_f32(wk[2 * l + 1]);
      }
      for (int i = 0; i < MR; ++i) {
        const float x0 = x[i * a.ldx + 2 * kk], x1 = x[i * a.ldx + 2 * kk + 1];
        for (int l = 0; l < kPanelRows; ++l) acc[i][l] += w0[l] * x0 + w1[l] * x1;
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

struct Q8Tile {
  template <int MR>
  static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const uint8_t* panel = a.w->panel(p);
    const int8_t* xq = static_cast<const int8_t*>(a.x) + r * a.ldx;
    const int64_t nb = a.w->k_steps;
    float acc[MR][kPanelRows] = {};
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = panel + b * kQ8PanelBlockBytes;
      const uint8_t* q = blk + kQ8ScaleBytes;
      float dw[kPanelRows];
      for (int l = 0; l < kPanelRows; ++l) dw[l] = f16_to_f32(static_cast<uint16_t>(blk[2 * l] | (blk[2 * l + 1] << 8)));
      for (int i = 0; i < MR; ++i) {
        const int8_t* xb = xq + i * a.ldx + b * kQ8Block;
        int32_t dot[kPanelRows] = {};
        for (int g = 0; g < kQ8Groups; ++g) {
          for (int l = 0; l < kPanelRows; ++l) {
            for (int j = 0; j < 4; ++j) {
              dot[l] += static_cast<int8_t>(q[g * 64 + l * 4 + j] ^ 0x80u) * xb[g * 4 + j];
            }
          }
        }
        const float dx = a.xd[(r + i) * nb + b];
        for (int l = 0; l < kPanelRows; ++l) acc[i][l] += static_cast<float>(dot[l]) * (dw[l] * dx);
      }
    }
    store_tile<MR>(a, p, r, acc);
  }
};

}  // namespace

void matmul_f16_scalar(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<FloatTile<uint16_t>, kRowsScalar>(a, p0, p1, r0, r1);
}

void matmul_f32_scalar(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<FloatTile<float>, kRowsScalar>(a, p0, p1, r0, r1);
}

void matmul_bf16_scalar(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<Bf16Tile, kRowsScalar>(a, p0, p1, r0, r1);
}

void matmul_q8_scalar(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<Q8Tile, kRowsScalar>(a, p0, p1, r0, r1);
}

void quantize_row_q8_scalar(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum) {
  for (int64_t b = 0; b < cols / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    float amax = 0;
    for (int j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float db = amax / 127.0f;
    const double id = db != 0 ? 1.0 / static_cast<double>(db) : 0.0;
    int32_t s = 0;
    for (int j = 0; j < kQ8Block; ++j) {
      q[b * kQ8Block + j] = q8_round(static_cast<double>(xb[j]) * id);
      s += q[b * kQ8Block + j];
    }
    d[b] = db;
    sum[b] = s;
  }
}

}  // namespace pensieve
