// Test material for the GGML block types: random file blocks (every bit pattern of the quants
// and sub-block scales, f16 scales of both signs, and blocks at the extremes), and ggml's
// dequantize_row_* transcribed from ggml/src/ggml-quants.c with every f32 operation rounded
// by Math.fround in ggml's order — the bit-exact reference the native dequantization, packing
// and embedding are checked against.
import { f16ToF32 } from '../../src/kernels/dtype.js';

export type QuantName = 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q8_0' | 'q2_K' | 'q3_K' | 'q4_K' | 'q5_K' | 'q6_K' | 'iq4_nl' | 'iq4_xs';

/** Values and bytes per block, and the byte offsets of the f16 fields (ggml-common.h). */
export const BLOCKS: Record<QuantName, { values: number; bytes: number; f16: number[] }> = {
  q4_0: { values: 32, bytes: 18, f16: [0] },
  q4_1: { values: 32, bytes: 20, f16: [0, 2] },
  q5_0: { values: 32, bytes: 22, f16: [0] },
  q5_1: { values: 32, bytes: 24, f16: [0, 2] },
  q8_0: { values: 32, bytes: 34, f16: [0] },
  q2_K: { values: 256, bytes: 84, f16: [80, 82] },
  q3_K: { values: 256, bytes: 110, f16: [108] },
  q4_K: { values: 256, bytes: 144, f16: [0, 2] },
  q5_K: { values: 256, bytes: 176, f16: [0, 2] },
  q6_K: { values: 256, bytes: 210, f16: [208] },
  iq4_nl: { values: 32, bytes: 18, f16: [0] },
  iq4_xs: { values: 256, bytes: 136, f16: [0] },
};

export const QUANT_NAMES = Object.keys(BLOCKS) as QuantName[];

const IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** A random finite f16 of either sign, around 2^-7..2^-1 (a normal model's scales), sometimes subnormal or zero. */
function randomF16(rng: () => number): number {
  const sign = rng() < 0.5 ? 0x8000 : 0;
  const r = rng();
  if (r < 0.03) return sign;
  if (r < 0.08) return sign | Math.floor(rng() * 0x3ff);
  const exp = 8 + Math.floor(rng() * 7);
  return sign | (exp << 10) | Math.floor(rng() * 0x400);
}

/**
 * `count` values of random blocks: random quant and scale bytes, except every fifth block is
 * all 0x00 or all 0xff bytes (sub-block scales and quants at their extremes) before its f16
 * fields are set.
 */
export function randomBlocks(rng: () => number, name: QuantName, count: number): Uint8Array {
  const { values, bytes, f16 } = BLOCKS[name];
  const n = count / values;
  const out = new Uint8Array(n * bytes);
  for (let b = 0; b < n; b++) {
    const base = b * bytes;
    const extreme = b % 5 === 4 ? (rng() < 0.5 ? 0x00 : 0xff) : -1;
    for (let i = 0; i < bytes; i++) out[base + i] = extreme >= 0 ? extreme : Math.floor(rng() * 256);
    for (const o of f16) {
      const h = randomF16(rng);
      out[base + o] = h & 0xff;
      out[base + o + 1] = h >> 8;
    }
  }
  return out;
}

const fr = Math.fround;

/** ggml's dequantize_row_<name> of `count` values. */
export function ggmlDequantize(name: QuantName, bytes: Uint8Array, count: number): Float32Array {
  const { values, bytes: bb } = BLOCKS[name];
  const y = new Float32Array(count);
  const h16 = (o: number) => f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
  for (let blk = 0; blk < count / values; blk++) {
    const s = blk * bb;
    const q = (i: number) => bytes[s + i]!;
    const out = blk * values;
    switch (name) {
      case 'q4_0':
      case 'iq4_nl': {
        const d = h16(s);
        for (let j = 0; j < 16; j++) {
          const lo = q(2 + j) & 0xf, hi = q(2 + j) >> 4;
          y[out + j] = name === 'q4_0' ? fr((lo - 8) * d) : fr(d * IQ4NL[lo]!);
          y[out + j + 16] = name === 'q4_0' ? fr((hi - 8) * d) : fr(d * IQ4NL[hi]!);
        }
        break;
      }
      case 'q4_1': {
        const d = h16(s), m = h16(s + 2);
        for (let j = 0; j < 16; j++) {
          y[out + j] = fr(fr((q(4 + j) & 0xf) * d) + m);
          y[out + j + 16] = fr(fr((q(4 + j) >> 4) * d) + m);
        }
        break;
      }
      case 'q5_0':
      case 'q5_1': {
        const one = name === 'q5_1';
        const d = h16(s), m = one ? h16(s + 2) : 0;
        const o = one ? 4 : 2;
        const qh = (q(o) | (q(o + 1) << 8) | (q(o + 2) << 16) | (q(o + 3) << 24)) >>> 0;
        for (let j = 0; j < 16; j++) {
          const xh0 = ((qh >>> j) << 4) & 0x10, xh1 = (qh >>> (j + 12)) & 0x10;
          const x0 = (q(o + 4 + j) & 0xf) | xh0, x1 = (q(o + 4 + j) >> 4) | xh1;
          y[out + j] = one ? fr(fr(x0 * d) + m) : fr((x0 - 16) * d);
          y[out + j + 16] = one ? fr(fr(x1 * d) + m) : fr((x1 - 16) * d);
        }
        break;
      }
      case 'q8_0': {
        const d = h16(s);
        for (let j = 0; j < 32; j++) y[out + j] = fr(((q(2 + j) << 24) >> 24) * d);
        break;
      }
      case 'q2_K': {
        const d = h16(s + 80), min = h16(s + 82);
        let yi = out, is = 0;
        for (let n = 0; n < 2; n++) {
          const qs = 16 + 32 * n;
          for (let j = 0; j < 4; j++) {
            for (const off of [0, 16]) {
              const sc = q(is++);
              const dl = fr(d * (sc & 0xf)), ml = fr(min * (sc >> 4));
              for (let l = 0; l < 16; l++) y[yi++] = fr(fr(dl * ((q(qs + l + off) >> (2 * j)) & 3)) - ml);
            }
          }
        }
        break;
      }
      case 'q3_K': {
        const d = h16(s + 108);
        const aux = new Uint32Array(4);
        const dv = new DataView(bytes.buffer, bytes.byteOffset + s + 96, 12);
        for (let i = 0; i < 3; i++) aux[i] = dv.getUint32(4 * i, true);
        const tmp = aux[2]!, k1 = 0x03030303, k2 = 0x0f0f0f0f;
        aux[2] = ((aux[0]! >>> 4) & k2) | (((tmp >>> 4) & k1) << 4);
        aux[3] = ((aux[1]! >>> 4) & k2) | (((tmp >>> 6) & k1) << 4);
        aux[0] = (aux[0]! & k2) | (((tmp >>> 0) & k1) << 4);
        aux[1] = (aux[1]! & k2) | (((tmp >>> 2) & k1) << 4);
        const scales = new Int8Array(aux.buffer);
        let yi = out, is = 0, m = 1;
        for (let n = 0; n < 2; n++) {
          const qs = 32 + 32 * n;
          for (let j = 0; j < 4; j++) {
            for (const off of [0, 16]) {
              const dl = fr(d * (scales[is++]! - 32));
              for (let l = 0; l < 16; l++) {
                const v = ((q(qs + l + off) >> (2 * j)) & 3) - (q(l + off) & m ? 0 : 4);
                y[yi++] = fr(dl * v);
              }
            }
            m <<= 1;
          }
        }
        break;
      }
      case 'q4_K':
      case 'q5_K': {
        const five = name === 'q5_K';
        const d = h16(s), min = h16(s + 2);
        const sc = (j: number): [number, number] =>
          j < 4 ? [q(4 + j) & 63, q(4 + j + 4) & 63]
            : [(q(4 + j + 4) & 0xf) | ((q(4 + j - 4) >> 6) << 4), (q(4 + j + 4) >> 4) | ((q(4 + j) >> 6) << 4)];
        let yi = out, u1 = 1, u2 = 2;
        for (let c = 0; c < 4; c++) {
          const [s1, m1i] = sc(2 * c), [s2, m2i] = sc(2 * c + 1);
          const d1 = fr(d * s1), m1 = fr(min * m1i), d2 = fr(d * s2), m2 = fr(min * m2i);
          const ql = (five ? 48 : 16) + 32 * c;
          for (let l = 0; l < 32; l++) y[yi++] = fr(fr(d1 * ((q(ql + l) & 0xf) + (five && q(16 + l) & u1 ? 16 : 0))) - m1);
          for (let l = 0; l < 32; l++) y[yi++] = fr(fr(d2 * ((q(ql + l) >> 4) + (five && q(16 + l) & u2 ? 16 : 0))) - m2);
          u1 <<= 2;
          u2 <<= 2;
        }
        break;
      }
      case 'q6_K': {
        const d = h16(s + 208);
        const sc = (i: number) => (q(192 + i) << 24) >> 24;
        for (let n = 0; n < 2; n++) {
          const ql = 64 * n, qh = 128 + 32 * n, scb = 8 * n, yb = out + 128 * n;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const q1 = ((q(ql + l) & 0xf) | (((q(qh + l) >> 0) & 3) << 4)) - 32;
            const q2 = ((q(ql + l + 32) & 0xf) | (((q(qh + l) >> 2) & 3) << 4)) - 32;
            const q3 = ((q(ql + l) >> 4) | (((q(qh + l) >> 4) & 3) << 4)) - 32;
            const q4 = ((q(ql + l + 32) >> 4) | (((q(qh + l) >> 6) & 3) << 4)) - 32;
            y[yb + l] = fr(fr(d * sc(scb + is)) * q1);
            y[yb + l + 32] = fr(fr(d * sc(scb + is + 2)) * q2);
            y[yb + l + 64] = fr(fr(d * sc(scb + is + 4)) * q3);
            y[yb + l + 96] = fr(fr(d * sc(scb + is + 6)) * q4);
          }
        }
        break;
      }
      case 'iq4_xs': {
        const d = h16(s);
        const sh = q(2) | (q(3) << 8);
        for (let ib = 0; ib < 8; ib++) {
          const ls = ((q(4 + (ib >> 1)) >> (4 * (ib % 2))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
          const dl = fr(d * (ls - 32));
          for (let j = 0; j < 16; j++) {
            const b = q(8 + 16 * ib + j);
            y[out + 32 * ib + j] = fr(dl * IQ4NL[b & 0xf]!);
            y[out + 32 * ib + j + 16] = fr(dl * IQ4NL[b >> 4]!);
          }
        }
        break;
      }
    }
  }
  return y;
}
