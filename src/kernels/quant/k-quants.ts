// ggml's K-quants (q2_K .. q6_K) and IQ4_XS: 256-value super-blocks whose 16- or 32-value
// sub-blocks carry small integer scales (and mins) under one f16 super-scale. Dequantization
// equals ggml-quants.c's dequantize_row_* bit for bit: each C float operation is one Math.fround,
// in C's order (q4_K: d·sc first, then ·q, then − dmin·m).
import { f16ToF32 } from '../f16.js';
import { KVALUES_IQ4NL } from './formats.js';

const fr = Math.fround;

function half(b: Uint8Array, at: number): number {
  return f16ToF32(b[at]! | (b[at + 1]! << 8));
}

/**
 * The 6-bit scale and min of sub-block j (0..7) of q4_K / q5_K from their 12 packed bytes at
 * `at` (ggml's get_scale_min_k4).
 */
export function scaleMinK4(b: Uint8Array, at: number, j: number): [sc: number, m: number] {
  if (j < 4) return [b[at + j]! & 63, b[at + j + 4]! & 63];
  return [(b[at + j + 4]! & 0x0f) | ((b[at + j - 4]! >> 6) << 4), (b[at + j + 4]! >> 4) | ((b[at + j]! >> 6) << 4)];
}

/**
 * The 16 signed 6-bit scales of q3_K (each already minus 32) from their 12 packed bytes at `at`:
 * low 4 bits from bytes 0..7, high 2 bits from bytes 8..11 (ggml's kmask shuffle).
 */
export function scalesQ3K(b: Uint8Array, at: number): Int8Array {
  const s = new Int8Array(16);
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? b[at + j]! & 0x0f : b[at + j - 8]! >> 4;
    const high = (b[at + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3;
    s[j] = (low | (high << 4)) - 32;
  }
  return s;
}

/** q2_K: 16 sub-blocks of 16; y = (d·sc)·q − dmin·m with 4-bit sc and m. */
export function dequantQ2K(b: Uint8Array, blocks: number, out: Float32Array): void {
  let y = 0;
  for (let i = 0; i < blocks; i++) {
    const at = i * 84;
    const d = half(b, at + 80), min = half(b, at + 82);
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = at + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 < 32; half16 += 16) {
          const sc = b[at + is++]!;
          const dl = fr(d * (sc & 0x0f)), ml = fr(min * (sc >> 4));
          for (let l = 0; l < 16; l++) out[y++] = fr(fr(dl * ((b[q + half16 + l]! >> shift) & 3)) - ml);
        }
      }
    }
  }
}

/** q3_K: 16 sub-blocks of 16; y = (d·(sc − 32))·(q − 4 when the high bit is clear). */
export function dequantQ3K(b: Uint8Array, blocks: number, out: Float32Array): void {
  let y = 0;
  for (let i = 0; i < blocks; i++) {
    const at = i * 110;
    const dAll = half(b, at + 108);
    const scales = scalesQ3K(b, at + 96);
    let is = 0, m = 1;
    for (let n = 0; n < 2; n++) {
      const q = at + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 < 32; half16 += 16) {
          const dl = fr(dAll * scales[is++]!);
          for (let l = 0; l < 16; l++) {
            const u = ((b[q + half16 + l]! >> shift) & 3) - (b[at + half16 + l]! & m ? 0 : 4);
            out[y++] = fr(dl * u);
          }
        }
        m <<= 1;
      }
    }
  }
}

/** q4_K: 8 sub-blocks of 32; y = (d·sc)·q − dmin·m with 6-bit sc and m. */
export function dequantQ4K(b: Uint8Array, blocks: number, out: Float32Array): void {
  let y = 0;
  for (let i = 0; i < blocks; i++) {
    const at = i * 144;
    const d = half(b, at), min = half(b, at + 2);
    for (let j = 0; j < 4; j++) {
      const q = at + 16 + j * 32;
      const [sc1, m1] = scaleMinK4(b, at + 4, 2 * j);
      const [sc2, m2] = scaleMinK4(b, at + 4, 2 * j + 1);
      const d1 = fr(d * sc1), dm1 = fr(min * m1), d2 = fr(d * sc2), dm2 = fr(min * m2);
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d1 * (b[q + l]! & 0x0f)) - dm1);
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d2 * (b[q + l]! >> 4)) - dm2);
    }
  }
}

/** q5_K: q4_K with a fifth bit per value from qh. */
export function dequantQ5K(b: Uint8Array, blocks: number, out: Float32Array): void {
  let y = 0;
  for (let i = 0; i < blocks; i++) {
    const at = i * 176;
    const d = half(b, at), min = half(b, at + 2);
    const qh = at + 16;
    for (let j = 0; j < 4; j++) {
      const ql = at + 48 + j * 32;
      const u1 = 1 << (2 * j), u2 = 2 << (2 * j);
      const [sc1, m1] = scaleMinK4(b, at + 4, 2 * j);
      const [sc2, m2] = scaleMinK4(b, at + 4, 2 * j + 1);
      const d1 = fr(d * sc1), dm1 = fr(min * m1), d2 = fr(d * sc2), dm2 = fr(min * m2);
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d1 * ((b[ql + l]! & 0x0f) + (b[qh + l]! & u1 ? 16 : 0))) - dm1);
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d2 * ((b[ql + l]! >> 4) + (b[qh + l]! & u2 ? 16 : 0))) - dm2);
    }
  }
}

/** q6_K: 16 sub-blocks of 16; y = (d·sc)·(q − 32) with int8 sc and 6-bit q. */
export function dequantQ6K(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 210;
    const d = half(b, at + 208);
    for (let n = 0; n < 2; n++) {
      const ql = at + n * 64, qh = at + 128 + n * 32, sc = at + 192 + n * 8;
      const y = i * 256 + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = b[qh + l]!;
        const q1 = ((b[ql + l]! & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((b[ql + l + 32]! & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
        const s = (k: number) => (b[sc + is + k]! << 24) >> 24;
        out[y + l] = fr(fr(d * s(0)) * q1);
        out[y + l + 32] = fr(fr(d * s(2)) * q2);
        out[y + l + 64] = fr(fr(d * s(4)) * q3);
        out[y + l + 96] = fr(fr(d * s(6)) * q4);
      }
    }
  }
}

/** iq4_xs: 8 sub-blocks of 32; y = (d·(ls − 32))·table[nibble] with 6-bit ls. */
export function dequantIq4Xs(b: Uint8Array, blocks: number, out: Float32Array): void {
  let y = 0;
  for (let i = 0; i < blocks; i++) {
    const at = i * 136;
    const d = half(b, at);
    const scalesH = b[at + 2]! | (b[at + 3]! << 8);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((b[at + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0x0f) | (((scalesH >> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      const qs = at + 8 + ib * 16;
      for (let j = 0; j < 16; j++) out[y + j] = fr(dl * KVALUES_IQ4NL[b[qs + j]! & 0x0f]!);
      for (let j = 0; j < 16; j++) out[y + j + 16] = fr(dl * KVALUES_IQ4NL[b[qs + j]! >> 4]!);
      y += 32;
    }
  }
}
