// AVX2 GEMM for the GGML block types and q8_0 (prefill and batched decode, m ≥ 3).
//
// The row-tile kernels (qmatmul_avx2.cc, matmul_avx2.cc's Q8Tile) rebuild each 4-k group of
// weights from its bit planes inside the dot loop, so that work is repeated for every 2-row tile
// of x. Here a thread decodes a whole panel once into a small buffer (its L1/L2) and then runs
// every row of x past it in tiles of 3 rows × 16 outputs. Per sub-block (32 values, 16 for
// q2_K/q3_K/q6_K) the buffer holds
//   w  [groups][16 rows][4]  u8 weights (i8 under the sign trick), vpmaddubsw's operand layout
//   s  f32 [16]              the sub-block scale of each row
//   mv f32 [16]              the min of each row (types with W = s·u + mv only)
// and the sums are the ones the row-tile kernels take, with the same exact integer dots:
//   no min:  acc += float(Σ u·q − c·Σq) · (s·d_x)
//   min:     acc += float(Σ u·q) · (s·d_x) + mv · (d_x·Σq)
//   signed:  acc += float(Σ |w|·sign(q, w)) · (s·d_x)            (q8_0, iq4_nl, iq4_xs)
// So every path computes the same int32 dots and the same f32 products; only the order of the
// f32 sums differs from the other paths.
//
// Measured on the AVX2 machine (Zen 3, 2 threads; `npx tsx bench/profile.ts --model
// .pensieve/bench/Qwen2.5-0.5B-Instruct-<type>.gguf --prefill 512`, ms per 512-token prefill for
// the 24 layers' calls, before → after): q4_0 gate|up 969 → 560 and down 467 → 321; Q4_K_M's
// q5_0 gate|up 1162 → 669, q6_K down 349 → 218, q4_K down 262 → 164. The sign-trick types gain
// less (q8_0 prefill 195 → 267 tok/s): their dots need a vpsignb and a vpmaddwd per group.
#include <immintrin.h>

#include "matmul.h"
#include "qdecode_avx2_inl.h"
#include "qlayout.h"
#include "store_tile_avx2_inl.h"

namespace pensieve {

namespace {

// What the micro-kernel needs to know about a decoded panel.
struct Decoded {
  bool sub16;     // 16-value sub-blocks (two per 32-block of x)
  bool has_min;   // W = s·u + mv
  bool is_signed; // i8 weights, sign trick
  int offset;     // c of W = s·(u − c), a power of two (0: none)
  int int16_groups;
};

constexpr int log2_exact(int v) { return v <= 1 ? 0 : 1 + log2_exact(v / 2); }

// The panel decoder of one GGML block type (not q8_0).
template <QType T>
struct BlockPanel {
  static constexpr QLayout L = qlayout(T);
  static constexpr int kInt16 = avx2q::Int16Groups<T>::value;
  static constexpr int kGroups = L.sub16 ? 4 : 8;
  static constexpr Decoded D{L.sub16, L.has_min, L.table, L.table ? 0 : L.offset, kInt16 < kGroups ? kInt16 : kGroups};
  static constexpr size_t kWBytes = kGroups * 64;
  static constexpr size_t kSubBytes = kWBytes + 64 + (L.has_min ? 64 : 0);
  static_assert(D.offset == 0 || (1 << log2_exact(D.offset)) == D.offset, "the offset is applied as a shift");

  template <int G>
  PENSIEVE_AVX2 static PENSIEVE_Q_INLINE void groups(const uint8_t* blk, __m256i table, uint8_t* dst) {
    if constexpr (G < 8) {
      uint8_t* o = dst + (L.sub16 && G >= 4 ? kSubBytes + (G - 4) * 64 : G * 64);
      for (int h = 0; h < 2; ++h) _mm256_store_si256(reinterpret_cast<__m256i*>(o + 32 * h), avx2q::decode_group<T, G>(blk + 32 * h, table));
      groups<G + 1>(blk, table, dst);
    }
  }

  PENSIEVE_AVX2 static void decode(const PackedMatrix& w, int64_t p, uint8_t* dst) {
    const uint8_t* panel = w.panel(p);
    __m256i table = _mm256_setzero_si256();
    if constexpr (L.table) table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    for (int64_t st = 0; st < w.k_steps; ++st) {
      const uint8_t* step = panel + st * L.step_bytes();
      __m256 d[2], m[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int h = 0; h < 2; ++h) {
        d[h] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(step + 16 * h)));
        if constexpr (L.m16) m[h] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(step + 32 + 16 * h)));
      }
      for (int j = 0; j < L.blocks(); ++j) {
        groups<0>(step + L.meta_bytes() + j * L.block_bytes(), table, dst);
        for (int hs = 0; hs < (L.sub16 ? 2 : 1); ++hs) {
          float* sm = reinterpret_cast<float*>(dst + hs * kSubBytes + kWBytes);
          for (int h = 0; h < 2; ++h) {
            __m256 s, mv = _mm256_setzero_ps();
            avx2q::sub_scales<T>(step, h, d[h], m[h], L.sub16 ? 2 * j + hs : j, &s, &mv);
            _mm256_store_ps(sm + 8 * h, s);
            if constexpr (L.has_min) _mm256_store_ps(sm + 16 + 8 * h, mv);
          }
        }
        dst += (L.sub16 ? 2 : 1) * kSubBytes;
      }
    }
  }
};

// q8_0 (pack.h's layout: f16 scales, then u8 = q XOR 0x80).
struct Q8Panel {
  static constexpr int kGroups = 8;
  static constexpr Decoded D{false, false, true, 0, 1};
  static constexpr size_t kWBytes = kGroups * 64;
  static constexpr size_t kSubBytes = kWBytes + 64;

  PENSIEVE_AVX2 static void decode(const PackedMatrix& w, int64_t p, uint8_t* dst) {
    const uint8_t* panel = w.panel(p);
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t b = 0; b < w.k_steps; ++b, dst += kSubBytes) {
      const uint8_t* blk = panel + b * kQ8PanelBlockBytes;
      for (int v = 0; v < 2 * kGroups; ++v) {
        const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kQ8ScaleBytes + 32 * v));
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst + 32 * v), _mm256_xor_si256(u, bias));
      }
      for (int h = 0; h < 2; ++h) {
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 16 * h)));
        _mm256_store_ps(reinterpret_cast<float*>(dst + kWBytes) + 8 * h, d);
      }
    }
  }
};

// MR rows of x × the panel's 16 outputs, over nsub decoded sub-blocks.
template <class P, int MR>
PENSIEVE_AVX2 void micro(const MatmulArgs& a, const uint8_t* buf, int64_t nsub, int64_t p, int64_t r) {
  constexpr Decoded D = P::D;
  constexpr int G = P::kGroups;
  const int64_t ldx = a.ldx, nb = a.xblocks;
  const int8_t* xq = static_cast<const int8_t*>(a.x) + r * ldx;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[2 * MR];
  for (int i = 0; i < 2 * MR; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsub; ++sb) {
    const uint8_t* wb = buf + sb * P::kSubBytes;
    const int8_t* xs = xq + sb * G * 4;
    const int64_t b = D.sub16 ? sb / 2 : sb;  // the 32-block of x
    __m256i dot[2 * MR], pairs[2 * MR];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      __m256i w[2], aw[2];
      for (int h = 0; h < 2; ++h) {
        w[h] = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + g * 64 + 32 * h));
        aw[h] = D.is_signed ? _mm256_abs_epi8(w[h]) : w[h];
      }
      for (int i = 0; i < MR; ++i) {
        const __m256i xv = _mm256_set1_epi32(load_i32(xs + i * ldx + 4 * g));
        for (int h = 0; h < 2; ++h) {
          __m256i t = _mm256_maddubs_epi16(aw[h], D.is_signed ? _mm256_sign_epi8(xv, w[h]) : xv);
          __m256i& acc16 = pairs[2 * i + h];
          acc16 = g % D.int16_groups == 0 ? t : _mm256_add_epi16(acc16, t);
          // Keeps GCC from reassociating the sums into a tree over all groups, which it then
          // schedules by issuing every vpmaddubsw first and spilling their results (0.65× speed).
          __asm__("" : "+x"(acc16));
        }
      }
      if ((g + 1) % D.int16_groups == 0) {
        for (int i = 0; i < 2 * MR; ++i) {
          const __m256i t = _mm256_madd_epi16(pairs[i], ones);
          dot[i] = g + 1 == D.int16_groups ? t : _mm256_add_epi32(dot[i], t);
          __asm__("" : "+x"(dot[i]));
        }
      }
    }
    const float* s = reinterpret_cast<const float*>(wb + P::kWBytes);
    for (int i = 0; i < MR; ++i) {
      const __m256 dx = _mm256_set1_ps(a.xd[(r + i) * nb + b]);
      __m256i corr = _mm256_setzero_si256();
      if constexpr (!D.has_min && D.offset != 0) {
        const int32_t sum = D.sub16 ? a.xsum16[(r + i) * 2 * nb + sb] : a.xsum[(r + i) * nb + b];
        corr = _mm256_slli_epi32(_mm256_set1_epi32(sum), log2_exact(D.offset));
      }
      __m256 xmin = _mm256_setzero_ps();
      if constexpr (D.has_min) xmin = _mm256_set1_ps(D.sub16 ? a.xdsum16[(r + i) * 2 * nb + sb] : a.xdsum[(r + i) * nb + b]);
      for (int h = 0; h < 2; ++h) {
        __m256i d = dot[2 * i + h];
        if constexpr (!D.has_min && D.offset != 0) d = _mm256_sub_epi32(d, corr);
        __m256& o = acc[2 * i + h];
        o = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(_mm256_load_ps(s + 8 * h), dx), o);
        if constexpr (D.has_min) o = _mm256_fmadd_ps(_mm256_load_ps(s + 16 + 8 * h), xmin, o);
      }
    }
  }
  avx2::store_tile<MR>(a, p, r, acc);
}

template <class P>
void gemm(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  const int64_t nsub = a.xblocks * (P::D.sub16 ? 2 : 1);
  uint8_t* buf = gemm_panel_buffer(static_cast<size_t>(nsub) * P::kSubBytes);
  for (int64_t p = p0; p < p1; ++p) {
    P::decode(*a.w, p, buf);
    int64_t r = r0;
    for (; r + kRowsAvx2Gemm <= r1; r += kRowsAvx2Gemm) micro<P, kRowsAvx2Gemm>(a, buf, nsub, p, r);
    if (r1 - r == 2) micro<P, 2>(a, buf, nsub, p, r);
    else if (r1 - r == 1) micro<P, 1>(a, buf, nsub, p, r);
  }
}

static_assert(kRowsAvx2Gemm == 3, "the tail above handles 1 or 2 rows");

}  // namespace

MatmulTileFn quant_gemm_avx2(QType t) {
  if (t == QType::Q8_0) return gemm<Q8Panel>;
  return with_qlayout_type(t, [](auto type) -> MatmulTileFn { return gemm<BlockPanel<decltype(type)::value>>; });
}

}  // namespace pensieve
