// Number formats of weights in model files, and their conversions to f32: f32, f16, bf16 and
// ggml's quantized block types (src/kernels/quant/). Dequantization equals ggml's
// dequantize_row_* bit for bit (test/kernels/quant-vectors.test.ts checks it against vectors
// made by ggml itself).
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './f16.js';
import { BLOCK_FORMATS, isQuantDType, type QuantDType } from './quant/formats.js';
import { dequantQ2K, dequantQ3K, dequantQ4K, dequantQ5K, dequantQ6K, dequantIq4Xs } from './quant/k-quants.js';
import { dequantIq4Nl, dequantQ4_0, dequantQ4_1, dequantQ5_0, dequantQ5_1, dequantQ8_0 } from './quant/legacy.js';

export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, roundToBf16 } from './f16.js';
export { BLOCK_FORMATS, isQuantDType, QK_K, QUANT_DTYPES, type QuantDType } from './quant/formats.js';

export type TensorDType = 'f32' | 'f16' | 'bf16' | QuantDType;

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Values per block of `dtype` (1 for f32, f16 and bf16): a row's length must be a multiple of it. */
export function blockValues(dtype: TensorDType): number {
  return isQuantDType(dtype) ? BLOCK_FORMATS[dtype].values : 1;
}

/** Bytes taken by `count` values of `dtype` (count must be whole blocks for a quantized type). */
export function byteSize(dtype: TensorDType, count: number): number {
  switch (dtype) {
    case 'f32': return count * 4;
    case 'f16':
    case 'bf16': return count * 2;
    default: {
      const { values, bytes } = BLOCK_FORMATS[dtype];
      if (count % values !== 0) throw new Error(`${dtype} needs a multiple of ${values} values, got ${count}`);
      return (count / values) * bytes;
    }
  }
}

const DEQUANTIZE: Readonly<Record<QuantDType, (b: Uint8Array, blocks: number, out: Float32Array) => void>> = {
  q4_0: dequantQ4_0, q4_1: dequantQ4_1, q5_0: dequantQ5_0, q5_1: dequantQ5_1, q8_0: dequantQ8_0,
  q2_K: dequantQ2K, q3_K: dequantQ3K, q4_K: dequantQ4K, q5_K: dequantQ5K, q6_K: dequantQ6K,
  iq4_nl: dequantIq4Nl, iq4_xs: dequantIq4Xs,
};

/** Decodes `count` values of `dtype` from little-endian bytes into f32. */
export function toFloat32(dtype: TensorDType, bytes: Uint8Array, count: number): Float32Array {
  const need = byteSize(dtype, count);
  if (bytes.byteLength < need) throw new Error(`need ${need} bytes of ${dtype}, got ${bytes.byteLength}`);
  const out = new Float32Array(count);
  if (isQuantDType(dtype)) {
    DEQUANTIZE[dtype](bytes, count / BLOCK_FORMATS[dtype].values, out);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, need);
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
  }
  return out;
}

/** The types fromFloat32 can encode: the float formats and q8_0 (GGML's reference quantizer). */
export type EncodableDType = 'f32' | 'f16' | 'bf16' | 'q8_0';

export function isEncodable(dtype: TensorDType): dtype is EncodableDType {
  return dtype === 'f32' || dtype === 'f16' || dtype === 'bf16' || dtype === 'q8_0';
}

/**
 * Encodes f32 values as `dtype` little-endian bytes (q8_0 quantizes as GGML's reference does).
 * Other quantized types come from llama.cpp's quantizer (llama-quantize), whose choices of
 * scales (importance-weighted searches) are not worth mirroring here.
 */
export function fromFloat32(dtype: TensorDType, values: Float32Array): Uint8Array {
  if (!isEncodable(dtype)) throw new Error(`cannot quantize to ${dtype} here: quantize with llama.cpp's llama-quantize`);
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
