// crc32c: the checksum of a KV chunk file's payload (src/engine/tiers/chunk-file.ts). A
// swap-in from disk verifies every byte it reads, so the checksum must run at memory speed:
// SHA-256 ran at ~1 GB/s here, a third of the whole restore budget. CRC-32C (Castagnoli)
// catches torn and corrupted files as well (the files are ours, not an adversary's), and
// SSE4.2's crc32 instruction computes it 8 bytes at a time. Three independent streams
// hide the instruction's 3-cycle latency; they are joined by multiplying each partial CRC
// by x^(8·len) mod P (a carry-less shift table built once). Scalar fallback:
// slicing-by-8 tables. Reference: src/kernels/reference.ts crc32c.
#include <napi.h>

#include <cstdint>
#include <cstring>

#include "cpu.h"
#include "crc32c.h"
#include "napi_util.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace pensieve {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Tables {
  uint32_t slice[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
      slice[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int t = 1; t < 8; ++t) slice[t][i] = (slice[t - 1][i] >> 8) ^ slice[0][slice[t - 1][i] & 0xFF];
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

uint32_t crc_scalar(uint32_t crc, const uint8_t* p, size_t n) {
  const Tables& t = tables();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= crc;
    crc = t.slice[7][w & 0xFF] ^ t.slice[6][(w >> 8) & 0xFF] ^ t.slice[5][(w >> 16) & 0xFF] ^ t.slice[4][(w >> 24) & 0xFF] ^
          t.slice[3][(w >> 32) & 0xFF] ^ t.slice[2][(w >> 40) & 0xFF] ^ t.slice[1][(w >> 48) & 0xFF] ^ t.slice[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t.slice[0][(crc ^ *p++) & 0xFF];
  return crc;
}

// (a · b) mod P in the reflected bit order, both of degree < 32.
uint32_t gf_multiply(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int i = 0; i < 32; ++i) {
    if (b & 0x80000000u) product ^= a;
    b <<= 1;
    a = (a >> 1) ^ (kPoly & (0u - (a & 1u)));
  }
  return product;
}

// x^(8·n) mod P: what a CRC is multiplied by to skip n zero bytes.
uint32_t zeros_operator(size_t n) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t square = 0x00800000u;  // x^8
  while (n > 0) {
    if (n & 1) result = gf_multiply(result, square);
    square = gf_multiply(square, square);
    n >>= 1;
  }
  return result;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_hw_serial(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

constexpr size_t kStripe = 8192;  // bytes per stream per round

__attribute__((target("sse4.2"))) uint32_t crc_hw(uint32_t crc, const uint8_t* p, size_t n) {
  static const uint32_t shift = zeros_operator(kStripe);
  while (n >= 3 * kStripe) {
    uint64_t a = crc, b = 0, c = 0;
    const uint8_t* pa = p;
    const uint8_t* pb = p + kStripe;
    const uint8_t* pc = p + 2 * kStripe;
    for (size_t i = 0; i < kStripe; i += 8) {
      uint64_t wa, wb, wc;
      std::memcpy(&wa, pa + i, 8);
      std::memcpy(&wb, pb + i, 8);
      std::memcpy(&wc, pc + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      c = _mm_crc32_u64(c, wc);
    }
    // crc(A‖B‖C) = shift(shift(crc(A)) ⊕ crc₀(B)) ⊕ crc₀(C), crc₀ starting from 0.
    uint32_t ab = gf_multiply(static_cast<uint32_t>(a), shift) ^ static_cast<uint32_t>(b);
    crc = gf_multiply(ab, shift) ^ static_cast<uint32_t>(c);
    p += 3 * kStripe;
    n -= 3 * kStripe;
  }
  return crc_hw_serial(crc, p, n);
}
#endif

// crc32c(data: Uint8Array, crc = 0) → the CRC-32C of the bytes, continuing `crc`.
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  const Span<uint8_t> data = typed_array<uint8_t>(info[0], "data");
  uint32_t crc = info.Length() > 1 && !info[1].IsUndefined() ? static_cast<uint32_t>(int_arg(info[1], "crc")) : 0u;
  return Napi::Number::New(info.Env(), static_cast<double>(crc32c(data.data, data.size, crc)));
}

void RegisterCrc32c(Napi::Env env, Napi::Object exports) { exports.Set("crc32c", Napi::Function::New(env, Crc32c)); }

}  // namespace

uint32_t crc32c(const uint8_t* p, size_t n, uint32_t crc) {
  crc = ~crc;
#if defined(__x86_64__)
  // Every CPU with AVX2 has SSE4.2; capping the ISA to scalar tests the table path.
  if (active_isa() != Isa::Scalar) return ~crc_hw(crc, p, n);
#endif
  return ~crc_scalar(crc, p, n);
}

PENSIEVE_REGISTER(RegisterCrc32c);

}  // namespace pensieve
