// AMX tile configuration shared by the AMX kernel (matmul_amx.cc) and its probe (probe.cc).
#pragma once

#include <cstdint>

namespace pensieve {

// ldtilecfg's 64-byte operand, palette 1: tile t has rows[t] rows of colsb[t] bytes.
struct alignas(64) AmxTileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles [0, n) of 16 rows × 64 bytes: 16 f32 sums, 32 bf16, or 16 bf16 pairs a row.
inline AmxTileConfig amx_full_tiles(int n) {
  AmxTileConfig cfg;
  for (int t = 0; t < n; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  return cfg;
}

}  // namespace pensieve
