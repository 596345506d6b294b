// AVX2 kernels for the GGML block types of qlayout.h: the AVX-512 kernel's
// scheme (qmatmul_avx512.cc) on two ymm halves of each 16-row panel slice,
// with vpmaddubsw + vpmaddwd in place of vpdpbusd. vpmaddubsw saturates at
// int16, which u ≤ 63 (every type's u but the iq4 codebook) never reaches:
// 2·63·127 < 2^15. The iq4 types take the codebook as signed bytes instead
// and the sign trick (|w| × sign(q_x, w), as the q8_0 kernel does), offset 0.
#include <immintrin.h>

#include <cstring>

#include "matmul.h"
#include "qdecode_avx2_inl.h"
#include "qlayout.h"
#include "store_tile_avx2_inl.h"

namespace pensieve {

namespace {

using avx2q::decode_group;
using avx2q::sub_scales;

template <QType T>
struct QTile {
  static constexpr QLayout L = qlayout(T);
  static constexpr int kGroupsPerSub = L.sub16 ? 4 : 8;
  // The codebook types run signed (sign trick) here, so their dot needs no offset.
  static constexpr int kOffset = L.table ? 0 : L.offset;
  static constexpr int kInt16Groups = avx2q::Int16Groups<T>::value;
  // q3_K and q6_K: the two 16-value sub-blocks of a 32-block scale their int dots by their int8
  // sub-scales with vpmulld and add up in int32 (|sc·dot| ≤ 128·16·32·127 for q6_K), so the
  // float side (cvt, d·dx, FMA) runs once a block instead of once a sub-block, and the scale
  // d·sc is never formed in float: 8 fewer vector ops a block at batch 1 (~6% of q6_K's).
  static constexpr bool kIntScale = L.sub16 && !L.has_min && L.subs > 0;

  template <int MR>
  PENSIEVE_AVX2 static void run(const MatmulArgs& a, int64_t p, int64_t r) {
    const uint8_t* panel = a.w->panel(p);
    const int64_t ldx = a.ldx, nb = a.xblocks, steps = a.w->k_steps;
    const int8_t* xq = static_cast<const int8_t*>(a.x) + r * ldx;
    __m256i table = _mm256_setzero_si256();
    if constexpr (L.table) table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    __m256 acc[2 * MR];
    for (int i = 0; i < 2 * MR; ++i) acc[i] = _mm256_setzero_ps();
    constexpr size_t kStepBytes = L.step_bytes();
    for (int64_t st = 0; st < steps; ++st) {
      const uint8_t* step = panel + st * kStepBytes;
      if constexpr (MR == 1) {
        if (kDecodePrefetch > 0)
          for (size_t o = 0; o < kStepBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(step + kDecodePrefetch + o), _MM_HINT_T0);
      }
      __m256 d[2], m[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int h = 0; h < 2; ++h) {
        d[h] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(step + 16 * h)));
        if constexpr (L.m16) m[h] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(step + 32 + 16 * h)));
      }
      for (int j = 0; j < L.blocks(); ++j) {
        const uint8_t* blk = step + L.meta_bytes() + j * L.block_bytes();
        const int64_t b = st * L.blocks() + j;
        __m256i block_dot[2 * MR];  // kIntScale: Σ over the sub-blocks of sc·dot
        for (int hs = 0; hs < (L.sub16 ? 2 : 1); ++hs) {
          const int sub = L.sub16 ? 2 * j + hs : j;
          __m256 s[2], mv[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
          __m256i sc[2];
          for (int h = 0; h < 2; ++h) {
            if constexpr (kIntScale) {
              sc[h] = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(step + L.sub_offset() + 8 * h + 16 * sub)));
            } else {
              sub_scales<T>(step, h, d[h], m[h], sub, &s[h], &mv[h]);
            }
          }
          __m256i dot[2 * MR];
          for (int i = 0; i < MR; ++i) {
            int32_t init = 0;
            if constexpr (!L.has_min && kOffset != 0) {
              init = -kOffset * (L.sub16 ? a.xsum16[(r + i) * 2 * nb + 2 * b + hs] : a.xsum[(r + i) * nb + b]);
            }
            dot[2 * i] = dot[2 * i + 1] = _mm256_set1_epi32(init);
          }
          // vpmaddubsw pair sums of several groups add up in int16 before one vpmaddwd widens them.
          __m256i pairs[2 * MR];
          for (int i = 0; i < 2 * MR; ++i) pairs[i] = _mm256_setzero_si256();
          const int8_t* xb = xq + b * 32;
          if (hs == 0) groups<MR, 0, kGroupsPerSub>(blk, table, xb, ldx, pairs, dot);
          else groups<MR, 4, 8>(blk, table, xb, ldx, pairs, dot);
          if constexpr (kIntScale) {
            for (int i = 0; i < 2 * MR; ++i) {
              const __m256i scaled = _mm256_mullo_epi32(dot[i], sc[i % 2]);
              block_dot[i] = hs == 0 ? scaled : _mm256_add_epi32(block_dot[i], scaled);
            }
            continue;
          }
          for (int i = 0; i < MR; ++i) {
            const __m256 dx = _mm256_set1_ps(a.xd[(r + i) * nb + b]);
            float xs = 0;
            if constexpr (L.has_min) xs = L.sub16 ? a.xdsum16[(r + i) * 2 * nb + 2 * b + hs] : a.xdsum[(r + i) * nb + b];
            for (int h = 0; h < 2; ++h) {
              acc[2 * i + h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[2 * i + h]), _mm256_mul_ps(s[h], dx), acc[2 * i + h]);
              if constexpr (L.has_min) acc[2 * i + h] = _mm256_fmadd_ps(mv[h], _mm256_set1_ps(xs), acc[2 * i + h]);
            }
          }
        }
        if constexpr (kIntScale) {
          for (int i = 0; i < MR; ++i) {
            const __m256 dx = _mm256_set1_ps(a.xd[(r + i) * nb + b]);
            for (int h = 0; h < 2; ++h) acc[2 * i + h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_dot[2 * i + h]), _mm256_mul_ps(d[h], dx), acc[2 * i + h]);
          }
        }
      }
    }
    avx2::store_tile<MR>(a, p, r, acc);
  }

  // Groups [G, GEnd) of a 32-block into the rows' dots.
  template <int MR, int G, int GEnd>
  PENSIEVE_AVX2 static PENSIEVE_Q_INLINE void groups(const uint8_t* blk, __m256i table, const int8_t* xb, int64_t ldx, __m256i* pairs, __m256i* dot) {
    if constexpr (G < GEnd) {
      for (int h = 0; h < 2; ++h) {
        const __m256i w = decode_group<T, G>(blk + 32 * h, table);
        const __m256i aw = L.table ? _mm256_abs_epi8(w) : w;
        for (int i = 0; i < MR; ++i) {
          __m256i xv = _mm256_set1_epi32(load_i32(xb + i * ldx + 4 * G));
          if constexpr (L.table) xv = _mm256_sign_epi8(xv, w);
          pairs[2 * i + h] = _mm256_add_epi16(pairs[2 * i + h], _mm256_maddubs_epi16(aw, xv));
        }
      }
      if constexpr ((G + 1) % kInt16Groups == 0 || G + 1 == GEnd) {
        for (int i = 0; i < 2 * MR; ++i) {
          dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(pairs[i], _mm256_set1_epi16(1)));
          pairs[i] = _mm256_setzero_si256();
        }
      }
      groups<MR, G + 1, GEnd>(blk, table, xb, ldx, pairs, dot);
    }
  }
};

template <QType T>
void tile(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
  for_each_tile<QTile<T>, kRowsAvx2Q8>(a, p0, p1, r0, r1);
}

}  // namespace

MatmulTileFn quant_tile_avx2(QType t) {
  return with_qlayout_type(t, [](auto type) -> MatmulTileFn { return tile<decltype(type)::value>; });
}

}  // namespace pensieve
