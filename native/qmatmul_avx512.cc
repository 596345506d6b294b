// AVX-512 VNNI kernels for the GGML block types packed as in qlayout.h: per
// 4-k group one 64-byte vector of 16 rows × 4 u8 weights is rebuilt from the
// bit planes (a shift, a mask, a ternary-logic merge per plane; a vpshufb for
// the iq4 codebook) and meets up to 8 rows of int8 activations in vpdpbusd,
// so the decode cost is shared by every row of the tile. Per sub-block the
// exact int32 dot is scaled in f32:
//   no min:  acc += float(Σ u·q − c·Σq) · (s·d_x)        (the dot starts at −c·Σq)
//   min:     acc += float(Σ u·q) · (s·d_x) + mv · (d_x·Σq)
// with s, mv the exact f32 sub-block scale and min of the row (16 lanes).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <cstring>

#include "matmul.h"
#include "qlayout.h"

// Overridable so test/native/avx512-emulated.sh can build these kernels for a CPU without AVX-512.
#ifndef PENSIEVE_AVX512_VNNI
#define PENSIEVE_AVX512_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#endif

namespace pensieve {

namespace {

// Bits of each byte of v moved from position `from` to `to` (epi16 shifts: the bits that cross
// into a neighbouring byte land outside the mask applied next).
template <int From, int To>
PENSIEVE_AVX512_VNNI PENSIEVE_Q_INLINE __m512i move_bits(__m512i v) {
  if constexpr (To > From) return _mm512_slli_epi16(v, To - From);
  else if constexpr (To < From) return _mm512_srli_epi16(v, From - To);
  else return v;
}

// Group g's 16 rows × 4 u8 weights of a 32-block.
template <QType T, int G>
PENSIEVE_AVX512_VNNI PENSIEVE_Q_INLINE __m512i decode_group(const uint8_t* blk, __m512i table) {
  constexpr QLayout L = qlayout(T);
  __m512i w = _mm512_setzero_si512();
  if constexpr (L.n4) {
    const __m512i v = _mm512_loadu_si512(blk + L.n4_offset() + (G % 4) * 64);
    w = _mm512_and_si512(G < 4 ? v : _mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
    if constexpr (L.table) w = _mm512_shuffle_epi8(table, w);
  }
  if constexpr (L.p2) {
    const __m512i v = move_bits<2 * (G % 4), L.p2_shift>(_mm512_loadu_si512(blk + L.p2_offset() + (G / 4) * 64));
    w = _mm512_ternarylogic_epi32(w, v, _mm512_set1_epi8(static_cast<char>(3 << L.p2_shift)), 0xF8);  // w | (v & mask)
  }
  if constexpr (L.h1) {
    const __m512i v = move_bits<G, L.h1_shift>(_mm512_loadu_si512(blk + L.h1_offset()));
    w = _mm512_ternarylogic_epi32(w, v, _mm512_set1_epi8(static_cast<char>(1 << L.h1_shift)), 0xF8);
  }
  return w;
}

// dot[i] += groups [G, GEnd) of the block against row i's activations.
template <QType T, int MR, int G, int GEnd>
PENSIEVE_AVX512_VNNI PENSIEVE_Q_INLINE void dot_groups(const uint8_t* blk, __m512i table, const int8_t* x, int64_t ldx, __m512i* dot) {
  if constexpr (G < GEnd) {
    const __m512i w = decode_group<T, G>(blk, table);
    for (int i = 0; i < MR; ++i) dot[i] = _mm512_dpbusd_epi32(dot[i], w, _mm512_set1_epi32(load_i32(x + i * ldx + 4 * G)));
    dot_groups<T, MR, G + 1, GEnd>(blk, table, x, ldx, dot);
  }
}

PENSIEVE_AVX512_VNNI PENSIEVE_Q_INLINE __m512 cvt_u8(const uint8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))); }
PENSIEVE_AVX512_VNNI PENSIEVE_Q_INLINE __m512 cvt_i8(const uint8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))); }

// Sub-block `sub`'s scale s and min mv (W = s·u + mv) of the 16 rows, from the step's meta.
template <QType T>
PENSIEVE_AVX512_VNNI PENSIEVE_Q_INLINE void sub_scales(const uint8_t* step, __m512 d, __m512 m, int sub, __m512* s, __m512* mv) {
  constexpr QLayout L = qlayout(T);
  const uint8_t* subs = step + L.sub_offset();
  if constexpr (T == QType::Q4_K || T == QType::Q5_K) {
    *s = _mm512_mul_ps(d, cvt_u8(subs + 16 * sub));
    *mv = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(m, cvt_u8(subs + 16 * (8 + sub))));
  } else if constexpr (T == QType::Q2_K) {
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(subs + 16 * sub)));
    *s = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(b, _mm512_set1_epi32(15))));
    *mv = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(m, _mm512_cvtepi32_ps(_mm512_srli_epi32(b, 4))));
  } else if constexpr (L.subs > 0) {  // q6_K, q3_K, iq4_xs: signed scales
    *s = _mm512_mul_ps(d, cvt_i8(subs + 16 * sub));
  } else {
    *s = d;
    if constexpr (L.has_min) *mv = m;
  }
}

template <QType T>
struct QTile {
  static constexpr QLayout L = qlayout(T);
  static constexpr int kGroupsPerSub = L.sub16 ? 4 : 8;

  template <int MR>
  PENSIEVE_AVX512_VNNI static void run(const MatmulArgs& a, int64_t p, int64_t r, const PanelPrefetch& pf) {
    const uint8_t* panel = a.w->panel(p);
    const int64_t ldx = a.ldx, nb = a.xblocks, steps = a.w->k_steps;
    const int8_t* xq = static_cast<const int8_t*>(a.x) + r * ldx;
    const float* xd = a.xd + r * nb;
    __m512i table = _mm512_setzero_si512();
    if constexpr (L.table) {
      alignas(16) uint8_t t[16];
      for (int c = 0; c < 16; ++c) t[c] = iq4_u(c);
      table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
    }
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    const char* next = reinterpret_cast<const char*>(pf.next);
    int64_t next_pf = next ? pf.phase : steps;
    constexpr size_t kStepBytes = L.step_bytes();
    for (int64_t st = 0; st < steps; ++st) {
      if (st == next_pf) {
        const char* ns = next + st * kStepBytes;
        for (size_t o = 0; o < kStepBytes; o += 64) _mm_prefetch(ns + o, _MM_HINT_T0);
        _mm_prefetch(ns + kStepBytes - 1, _MM_HINT_T0);
        next_pf += pf.period;
      }
      const uint8_t* step = panel + st * kStepBytes;
      if constexpr (MR == 1) {
        if (kDecodePrefetch > 0)
          for (size_t o = 0; o < kStepBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(step + kDecodePrefetch + o), _MM_HINT_T0);
      }
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(step)));
      __m512 m = _mm512_setzero_ps();
      if constexpr (L.m16) m = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(step + 32)));
      for (int j = 0; j < L.blocks(); ++j) {
        const uint8_t* blk = step + L.meta_bytes() + j * L.block_bytes();
        const int64_t b = st * L.blocks() + j;  // the 32-block of x
        const int8_t* xb = xq + b * 32;
        if constexpr (L.sub16) {
          sub_block<MR, 0>(a, blk, step, d, m, table, xb, xd, r, b, 2 * j, acc);
          sub_block<MR, 1>(a, blk, step, d, m, table, xb, xd, r, b, 2 * j + 1, acc);
        } else {
          sub_block<MR, 0>(a, blk, step, d, m, table, xb, xd, r, b, j, acc);
        }
      }
    }
    store<MR>(a, p, r, acc);
  }

  // One sub-block (H: which half of a 32-block for 16-value sub-blocks) into acc.
  template <int MR, int H>
  PENSIEVE_AVX512_VNNI static PENSIEVE_Q_INLINE void sub_block(const MatmulArgs& a, const uint8_t* blk, const uint8_t* step, __m512 d, __m512 m,
                                                    __m512i table, const int8_t* xb, const float* xd, int64_t r, int64_t b, int sub,
                                                    __m512* acc) {
    const int64_t nb = a.xblocks;
    __m512 s, mv = _mm512_setzero_ps();
    sub_scales<T>(step, d, m, sub, &s, &mv);
    __m512i dot[MR];
    for (int i = 0; i < MR; ++i) {
      if constexpr (L.has_min) dot[i] = _mm512_setzero_si512();
      else if constexpr (L.sub16) dot[i] = _mm512_set1_epi32(-L.offset * a.xsum16[(r + i) * 2 * nb + 2 * b + H]);
      else dot[i] = _mm512_set1_epi32(-L.offset * a.xsum[(r + i) * nb + b]);
    }
    dot_groups<T, MR, H * kGroupsPerSub, (H + 1) * kGroupsPerSub>(blk, table, xb, a.ldx, dot);
    for (int i = 0; i < MR; ++i) {
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(s, _mm512_set1_ps(xd[i * nb + b])), acc[i]);
      if constexpr (L.has_min) {
        const float xs = L.sub16 ? a.xdsum16[(r + i) * 2 * nb + 2 * b + H] : a.xdsum[(r + i) * nb + b];
        acc[i] = _mm512_fmadd_ps(mv, _mm512_set1_ps(xs), acc[i]);
      }
    }
  }

  template <int MR>
  PENSIEVE_AVX512_VNNI static void store(const MatmulArgs& a, int64_t p, int64_t r, const __m512* acc) {
    const __mmask16 mask = static_cast<__mmask16>((1u << a.w->valid_rows(p)) - 1u);
    const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(mask, a.bias + p * kPanelRows) : _mm512_setzero_ps();
    int64_t ld;
    float* out = a.out_at(p, r, &ld);
    for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(out + i * ld, mask, _mm512_add_ps(acc[i], bias));
  }
};

template <QType T>
void tile(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile_prefetch<QTile<T>, kRowsAvx512>(a, p0, p1, r0, r1);
}

}  // namespace

MatmulTileFn quant_tile_avx512(QType t) {
  return with_qlayout_type(t, [](auto type) -> MatmulTileFn { return tile<decltype(type)::value>; });
}

}  // namespace pensieve
