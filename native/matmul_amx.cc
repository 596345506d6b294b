// AMX kernel for bf16 weights (tdpbf16ps), for prefill-sized m: one instruction multiplies a
// 16×32 bf16 tile of x by a 32×16 tile of W into 16×16 f32 sums, 8192 multiply-adds where
// vdpbf16ps does 32. The bf16 panel layout ([k-pair][16 rows][2], pack.h) is already the B tile's
// (16 k-pairs × 16 rows × a pair = 1 KiB, rows 64 bytes apart), so W is read as packed; x comes
// as bf16 bits [m][ld] (the vdpbf16ps kernel's preparation) and an A tile is 16 of its rows.
// Each call walks its panels two at a time, and for each pair the rows of x in blocks of 32 (two A
// tiles, two B tiles, four C tiles): the panels stay in L1 while the blocks stream past them.
//
// Used when PENSIEVE_AMX=1 (opt-in, cpu.cc), the CPU has AMX-BF16, the OS granted the tile state,
// m ≥ kAmxMinRows and K is a whole number of 32-wide slices (matmul.cc); otherwise the vdpbf16ps
// row tiles run.
// Products are exact in f32 and summed in f32 (in another order than the other paths).
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "amx.h"
#include "matmul.h"

#ifndef PENSIEVE_AMX_BF16
#define PENSIEVE_AMX_BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,amx-tile,amx-bf16")))
#endif

namespace pensieve {

namespace {

// Tiles: 0-3 the sums of x rows [0, 16) and [16, 32) of a block against two panels (0: rows 0-15 ×
// panel 0, 1: rows 0-15 × panel 1, 2: rows 16-31 × panel 0, 3: rows 16-31 × panel 1); 4, 5 the two
// halves of x; 6, 7 the two panels' slices. All 16 rows of 64 bytes: 16 f32 sums, 32 bf16 of x,
// 16 k-pairs of a panel's 16 rows. Two panels a pass: 4 tile loads feed 4 tdpbf16ps.
PENSIEVE_AMX_BF16 void configure_tiles() {
  const AmxTileConfig cfg = amx_full_tiles(8);
  _tile_loadconfig(&cfg);
}

// A zero-padded copy of the last, partial block of x rows: an A tile always reads 16 rows.
std::vector<uint16_t>& tail_rows() {
  static thread_local std::vector<uint16_t> buf;
  return buf;
}

// Adds the bias and writes rows [0, n) of the sums of panel p (16×16 f32 in `c`) to out rows r….
PENSIEVE_AMX_BF16 void store_sums(const MatmulArgs& a, int64_t p, int64_t r, int64_t n, const float* c) {
  const __mmask16 mask = static_cast<__mmask16>((1u << a.w->valid_rows(p)) - 1u);
  const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(mask, a.bias + p * kPanelRows) : _mm512_setzero_ps();
  int64_t ld;
  float* out = a.out_at(p, r, &ld);
  for (int64_t i = 0; i < n; ++i) _mm512_mask_storeu_ps(out + i * ld, mask, _mm512_add_ps(_mm512_load_ps(c + i * 16), bias));
}

}  // namespace

PENSIEVE_AMX_BF16 void matmul_bf16_amx(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  const PackedMatrix& w = *a.w;
  const int64_t K2 = w.k_steps;  // k-pairs: a multiple of 16 (matmul.cc checks)
  const int64_t ld = a.ldx;
  const int64_t stride = ld * static_cast<int64_t>(sizeof(uint16_t));
  const uint16_t* x = static_cast<const uint16_t*>(a.x);
  constexpr int64_t kBlock = 2 * 16;
  const int64_t full_end = r0 + (r1 - r0) / kBlock * kBlock;
  const int64_t tail = r1 - full_end;
  const uint16_t* tail_x = nullptr;
  if (tail > 0) {
    std::vector<uint16_t>& buf = tail_rows();
    buf.assign(static_cast<size_t>(kBlock * ld), 0);
    std::memcpy(buf.data(), x + full_end * ld, static_cast<size_t>(tail * ld) * sizeof(uint16_t));
    tail_x = buf.data();
  }
  configure_tiles();
  alignas(64) float c[4][16 * 16];
  for (int64_t p = p0; p < p1; p += 2) {
    const bool pair = p + 1 < p1;
    const uint8_t* panel0 = w.panel(p);
    const uint8_t* panel1 = pair ? w.panel(p + 1) : panel0;
    for (int64_t r = r0; r < r1; r += kBlock) {
      const uint16_t* xb = r < full_end ? x + r * ld : tail_x;
      const int64_t n = std::min<int64_t>(kBlock, r1 - r);
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      if (pair) {
        for (int64_t kk = 0; kk < K2; kk += 16) {
          _tile_loadd(6, panel0 + kk * 64, 64);
          _tile_loadd(7, panel1 + kk * 64, 64);
          _tile_loadd(4, xb + 2 * kk, stride);
          _tile_loadd(5, xb + 16 * ld + 2 * kk, stride);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      } else {
        for (int64_t kk = 0; kk < K2; kk += 16) {
          _tile_loadd(6, panel0 + kk * 64, 64);
          _tile_loadd(4, xb + 2 * kk, stride);
          _tile_loadd(5, xb + 16 * ld + 2 * kk, stride);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(2, 5, 6);
        }
      }
      const int64_t top = std::min<int64_t>(n, 16);
      _tile_stored(0, c[0], 64);
      _tile_stored(2, c[2], 64);
      store_sums(a, p, r, top, c[0]);
      if (n > 16) store_sums(a, p, r + 16, n - 16, c[2]);
      if (pair) {
        _tile_stored(1, c[1], 64);
        _tile_stored(3, c[3], 64);
        store_sums(a, p + 1, r, top, c[1]);
        if (n > 16) store_sums(a, p + 1, r + 16, n - 16, c[3]);
      }
    }
  }
  _tile_release();
}

}  // namespace pensieve
