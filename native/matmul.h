// The seam between the matmul driver (matmul.cc: argument checks, activation
// preparation, work split) and the per-ISA kernels (matmul_avx512.cc,
// matmul_avx2.cc, matmul_scalar.cc). Every ISA computes the same values: the
// integer dots of q8_0 are exact and the activations are prepared bit-identically,
// so paths differ only in the order of f32 additions.
#pragma once

#include <cstdint>
#include <cstring>

#include "pack.h"

namespace pensieve {

// Four bytes of a packed weight (or of bf16 pairs) as one int32, whatever their alignment.
inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Activations as a kernel reads them, prepared once per call by the driver.
struct MatmulArgs {
  const PackedMatrix* w = nullptr;
  // f32: the caller's x [m][cols].
  // bf16: x rounded to bf16 [m][2·k_steps], zero-padded — as uint16 bits for
  //       the vdpbf16ps kernel, as f32 values for the others.
  // q8_0: int8 q [m][cols].
  const void* x = nullptr;
  int64_t ldx = 0;  // elements between rows of x
  // int8 q [m][cols] also for the other block types (Quant).
  // q8_0 and Quant, [m][xblocks] (xblocks = cols/32): each 32-block's scale d_x and
  // Σ q_x (for the unsigned-bias corrections).
  const float* xd = nullptr;
  const int32_t* xsum = nullptr;
  int64_t xblocks = 0;
  // Quant only: Σ q_x per 16 values [m][2·xblocks], and d_x·Σ q_x per 32 [m][xblocks] and per
  // 16 [m][2·xblocks] (the min terms of types with W = s·u + mv).
  const int32_t* xsum16 = nullptr;
  const float* xdsum = nullptr;
  const float* xdsum16 = nullptr;
  const float* bias = nullptr;  // [rows] or null
  // Where the output goes: panel p's 16 columns of row i. One part [m][rows] for matmul;
  // matmulSplit gives each part (q, k, v or gate, up) its own [m][width] array, every part a
  // whole number of panels, so tiles store straight into the caller's arrays.
  struct OutPart {
    float* data;
    int64_t ld;      // floats between rows
    int64_t panel0;  // first panel of the part
  };
  static constexpr int kMaxParts = 4;
  OutPart parts[kMaxParts] = {};
  int num_parts = 0;

  // The address of output row r, panel p's first column; *ld gets the row stride.
  float* out_at(int64_t p, int64_t r, int64_t* ld) const {
    int j = num_parts - 1;
    while (parts[j].panel0 > p) --j;
    *ld = parts[j].ld;
    return parts[j].data + r * parts[j].ld + (p - parts[j].panel0) * kPanelRows;
  }
};

// Computes out rows [r0, r1) × panels [p0, p1). Called from pool threads on
// disjoint tiles.
using MatmulTileFn = void (*)(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1);

// Rows of x one kernel call keeps in registers (the weight-reuse factor) per
// path: as many as the register file holds accumulators for.
constexpr int kRowsAvx512 = 8;   // 8 zmm accumulators of 16 outputs
constexpr int kRowsAvx2 = 4;     // 2 ymm per row
constexpr int kRowsAvx2Q8 = 2;   // 2 int + 2 float ymm per row
constexpr int kRowsAvx2Gemm = 3; // quant_gemm_avx2: 2 int16 + 2 f32 ymm per row, the decoded panel's 2 vectors
// From this many rows of x the AVX2 block-type and q8_0 matmuls decode each panel once and run
// the GEMM kernel (qgemm_avx2.cc) instead of the row tiles; below it decoding once per 2-row
// tile is as cheap (measured: m = 2 is 0.8× with the GEMM, m = 3 1.1–1.25×, m ≥ 9 1.4–1.6×).
constexpr int kGemmMinRowsAvx2 = 3;
constexpr int kRowsScalar = 4;
// The AMX bf16 kernel takes x rows in blocks of 32 (two 16-row tiles), from this many rows of x
// (below it the vdpbf16ps row tiles run: a 16-row tile would be mostly padding).
constexpr int kRowsAmx = 32;
constexpr int kAmxMinRows = 16;

// Walks panels [p0, p1) and, inside each, rows [r0, r1) in tiles of MaxMR
// rows: the panel stays in L1/L2 while every row tile streams past it. Tile
// is a struct with `template <int MR> static void run(const MatmulArgs&, p, r)`.
template <class Tile, int MR>
inline void run_row_tail(const MatmulArgs& a, int64_t p, int64_t r, int64_t n) {
  if constexpr (MR > 0) {
    if (n == MR) Tile::template run<MR>(a, p, r);
    else run_row_tail<Tile, MR - 1>(a, p, r, n);
  }
}

template <class Tile, int MaxMR>
inline void for_each_tile(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for (int64_t p = p0; p < p1; ++p) {
    int64_t r = r0;
    for (; r + MaxMR <= r1; r += MaxMR) Tile::template run<MaxMR>(a, p, r);
    if (r < r1) run_row_tail<Tile, MaxMR - 1>(a, p, r, r1 - r);
  }
}

// One-row (decode) tiles on AVX2 prefetch their panel this many bytes ahead. Measured on the
// AVX2 machine (Zen 3 guest, Qwen2.5-0.5B decode alternated with and without, bench/profile.ts):
// batch-1 decode rose from ~63% to ~73% of the probed DRAM bandwidth for Q4_0 and from ~71% to
// ~81-85% for bf16; 2048 and 4096 bytes did about equally. The hardware prefetcher alone does
// not run far enough ahead of a stream whose dot instructions keep the core busy. Panels are
// contiguous per thread, so the lines fetched past a panel's end are the next panel's.
#ifndef PENSIEVE_DECODE_PREFETCH
#define PENSIEVE_DECODE_PREFETCH 4096
#endif
constexpr int kDecodePrefetch = PENSIEVE_DECODE_PREFETCH;

// The next panel's lines, fetched while this panel's row tiles run: with several row tiles a
// panel is read from memory by the first tile in a burst (one 64-byte line per 8 dot
// instructions) and not at all by the rest, and the hardware prefetcher does not run far enough
// ahead to smooth that. So tile `phase` of `period` fetches every period-th k-step of the next
// panel, one panel ahead: together the tiles fetch all of it, evenly over the panel's compute.
struct PanelPrefetch {
  const uint8_t* next = nullptr;  // the following panel, or null at the last one
  int phase = 0;
  int period = 1;
};

// for_each_tile with a PanelPrefetch for each tile: Tile::run<MR>(a, p, r, pf).
template <class Tile, int MR>
inline void run_row_tail_pf(const MatmulArgs& a, int64_t p, int64_t r, int64_t n, const PanelPrefetch& pf) {
  if constexpr (MR > 0) {
    if (n == MR) Tile::template run<MR>(a, p, r, pf);
    else run_row_tail_pf<Tile, MR - 1>(a, p, r, n, pf);
  }
}

template <class Tile, int MaxMR>
inline void for_each_tile_prefetch(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  const int period = static_cast<int>((r1 - r0 + MaxMR - 1) / MaxMR);
  for (int64_t p = p0; p < p1; ++p) {
    // One row tile (decode) reads its panel at the pace of the dot instructions, which the
    // hardware prefetcher keeps up with; a software stream on top of it only costs bandwidth.
    PanelPrefetch pf{p + 1 < a.w->panels && period > 1 ? a.w->panel(p + 1) : nullptr, 0, period};
    int64_t r = r0;
    for (; r + MaxMR <= r1; r += MaxMR, ++pf.phase) Tile::template run<MaxMR>(a, p, r, pf);
    if (r < r1) run_row_tail_pf<Tile, MaxMR - 1>(a, p, r, r1 - r, pf);
  }
}

// The q8_0 activation quantizer: per 32-block d = max|x|/127 (f32), q = round
// half away from zero of x·(1/d) computed in double (as the TS reference does,
// so ties round the same way), and Σq for the kernels' unsigned-bias correction.
using QuantizeRowFn = void (*)(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum);

void matmul_f32_scalar(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_bf16_scalar(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);  // x as f32 values
void matmul_q8_scalar(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_f16_scalar(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void quantize_row_q8_scalar(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum);

void matmul_f32_avx2(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_bf16_avx2(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);  // x as f32 values
void matmul_q8_avx2(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_f16_avx2(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void quantize_row_q8_avx2(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum);

// Need AVX-512 F/BW/DQ/VL; the bf16 kernel also AVX512_BF16 (x as uint16
// bits), the q8_0 kernel also AVX512_VNNI.
void matmul_f32_avx512(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_bf16_avx512(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_q8_avx512(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void matmul_f16_avx512(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
void quantize_row_q8_avx512(const float* x, int64_t cols, int8_t* q, float* d, int32_t* sum);
// AMX-BF16 (matmul_amx.cc): x as for matmul_bf16_avx512; k_steps a multiple of 16.
void matmul_bf16_amx(const MatmulArgs&, int64_t, int64_t, int64_t, int64_t);
// x rounded to bf16 bits exactly as f32_to_bf16 (bf16.h) does; any n.
void round_bf16_avx512(const float* x, int64_t n, uint16_t* out);

// The GGML block types of qlayout.h (Quant), one kernel per type and ISA; null for q8_0.
// x as for q8_0 plus the Quant sums; the AVX-512 kernels also need AVX512_VNNI.
MatmulTileFn quant_tile_scalar(QType t);
MatmulTileFn quant_tile_avx2(QType t);
MatmulTileFn quant_tile_avx512(QType t);
// The AVX2 GEMM for m ≥ kGemmMinRowsAvx2 decodes a panel into this per-thread buffer (64-byte
// aligned, grown as needed, kept between calls) before running every row tile over it.
uint8_t* gemm_panel_buffer(size_t bytes);
// The AVX2 GEMM for m ≥ kGemmMinRowsAvx2: every block type and q8_0 (x prepared as for the
// row tiles of the same type).
MatmulTileFn quant_gemm_avx2(QType t);

}  // namespace pensieve
