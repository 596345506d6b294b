// ggml's 32-value block types (q4_0, q4_1, q5_0, q5_1, q8_0) and IQ4_NL: dequantization equal
// to ggml-quants.c's dequantize_row_* bit for bit. Every C float operation is one Math.fround
// (a double operation on f32 inputs rounded once to f32 equals the f32 operation), in C's order.
import { f16ToF32 } from '../f16.js';
import { KVALUES_IQ4NL } from './formats.js';

const fr = Math.fround;

/** f16 at byte offset `at` (little-endian). */
function half(b: Uint8Array, at: number): number {
  return f16ToF32(b[at]! | (b[at + 1]! << 8));
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** q4_0: y = (nibble − 8)·d; low nibbles are values 0..15, high nibbles 16..31. */
export function dequantQ4_0(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 18, y = i * 32;
    const d = half(b, at);
    for (let j = 0; j < 16; j++) {
      const q = b[at + 2 + j]!;
      out[y + j] = fr(((q & 0x0f) - 8) * d);
      out[y + j + 16] = fr(((q >> 4) - 8) * d);
    }
  }
}

/** q4_1: y = nibble·d + m. */
export function dequantQ4_1(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 20, y = i * 32;
    const d = half(b, at), m = half(b, at + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[at + 4 + j]!;
      out[y + j] = fr(fr((q & 0x0f) * d) + m);
      out[y + j + 16] = fr(fr((q >> 4) * d) + m);
    }
  }
}

/** q5_0: y = ((nibble | high bit << 4) − 16)·d; bit j of qh is value j's fifth bit. */
export function dequantQ5_0(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 22, y = i * 32;
    const d = half(b, at);
    const qh = u32(b, at + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[at + 6 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      out[y + j] = fr((((q & 0x0f) | h0) - 16) * d);
      out[y + j + 16] = fr((((q >> 4) | h1) - 16) * d);
    }
  }
}

/** q5_1: y = (nibble | high bit << 4)·d + m. */
export function dequantQ5_1(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 24, y = i * 32;
    const d = half(b, at), m = half(b, at + 2);
    const qh = u32(b, at + 4);
    for (let j = 0; j < 16; j++) {
      const q = b[at + 8 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      out[y + j] = fr(fr(((q & 0x0f) | h0) * d) + m);
      out[y + j + 16] = fr(fr(((q >> 4) | h1) * d) + m);
    }
  }
}

/** q8_0: y = int8·d. */
export function dequantQ8_0(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 34, y = i * 32;
    const d = half(b, at);
    for (let j = 0; j < 32; j++) out[y + j] = fr(((b[at + 2 + j]! << 24) >> 24) * d);
  }
}

/** iq4_nl: y = d·table[nibble]. */
export function dequantIq4Nl(b: Uint8Array, blocks: number, out: Float32Array): void {
  for (let i = 0; i < blocks; i++) {
    const at = i * 18, y = i * 32;
    const d = half(b, at);
    for (let j = 0; j < 16; j++) {
      const q = b[at + 2 + j]!;
      out[y + j] = fr(d * KVALUES_IQ4NL[q & 0x0f]!);
      out[y + j + 16] = fr(d * KVALUES_IQ4NL[q >> 4]!);
    }
  }
}
