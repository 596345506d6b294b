// Number formats of weights in model files, and their conversions to f32.
// q8_0 is GGML's: blocks of 32 values, each an f16 scale followed by 32 int8.

export type TensorDType = 'f32' | 'f16' | 'bf16' | 'q8_0';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Bytes taken by `count` values of `dtype` (count must be a multiple of 32 for q8_0). */
export function byteSize(dtype: TensorDType, count: number): number {
  switch (dtype) {
    case 'f32': return count * 4;
    case 'f16':
    case 'bf16': return count * 2;
    case 'q8_0':
      if (count % Q8_0_BLOCK !== 0) throw new Error(`q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${count}`);
      return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** f32 → f16 bits, round to nearest even (as numpy and GGML do). */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function bf16ToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** f32 → bf16 bits, round to nearest even; NaN stays NaN. */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds an f32 value to the nearest bf16 value (still as a number). */
export function roundToBf16(value: number): number {
  return bf16ToF32(f32ToBf16(value));
}

/** Decodes `count` values of `dtype` from little-endian bytes into f32. */
export function toFloat32(dtype: TensorDType, bytes: Uint8Array, count: number): Float32Array {
  const need = byteSize(dtype, count);
  if (bytes.byteLength < need) throw new Error(`need ${need} bytes of ${dtype}, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, need);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'f16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      break;
    case 'bf16':
      for (let i = 0; i < count; i++) out[i] = bf16ToF32(view.getUint16(i * 2, true));
      break;
    case 'q8_0':
      for (let b = 0; b < count / Q8_0_BLOCK; b++) {
        const base = b * Q8_0_BLOCK_BYTES;
        const d = f16ToF32(view.getUint16(base, true));
        for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = d * view.getInt8(base + 2 + j);
      }
      break;
  }
  return out;
}

/** Encodes f32 values as `dtype` little-endian bytes (q8_0 quantizes as GGML's reference does). */
export function fromFloat32(dtype: TensorDType, values: Float32Array): Uint8Array {
  const out = new Uint8Array(byteSize(dtype, values.length));
  const view = new DataView(out.buffer);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
      break;
    case 'f16':
      for (let i = 0; i < values.length; i++) view.setUint16(i * 2, f32ToF16(values[i]!), true);
      break;
    case 'bf16':
      for (let i = 0; i < values.length; i++) view.setUint16(i * 2, f32ToBf16(values[i]!), true);
      break;
    case 'q8_0':
      for (let b = 0; b < values.length / Q8_0_BLOCK; b++) {
        let amax = 0;
        for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[b * Q8_0_BLOCK + j]!));
        const d = amax / 127;
        const id = d ? 1 / d : 0;
        const base = b * Q8_0_BLOCK_BYTES;
        view.setUint16(base, f32ToF16(d), true);
        for (let j = 0; j < Q8_0_BLOCK; j++) view.setInt8(base + 2 + j, roundHalfAway(values[b * Q8_0_BLOCK + j]! * id));
      }
      break;
  }
  return out;
}

/** C's roundf: halfway cases away from zero (Math.round rounds them up). */
export function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}
