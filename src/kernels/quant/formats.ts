// The block formats of ggml's quantized types (ggml-common.h): how many values a block holds and
// how many bytes it takes. Every quantized row is a whole number of blocks.

/** ggml's quantized types we load and compute with, by ggml's own names. */
export type QuantDType =
  | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q8_0'
  | 'q2_K' | 'q3_K' | 'q4_K' | 'q5_K' | 'q6_K'
  | 'iq4_nl' | 'iq4_xs';

/** Values per K-quant super-block (ggml's QK_K). */
export const QK_K = 256;

export interface BlockFormat {
  /** Values per block. */
  readonly values: number;
  /** Bytes per block. */
  readonly bytes: number;
  /** Byte offsets of the block's f16 fields (super-scales and mins). */
  readonly halves: readonly number[];
}

export const BLOCK_FORMATS: Readonly<Record<QuantDType, BlockFormat>> = {
  q4_0: { values: 32, bytes: 18, halves: [0] }, // f16 d, 16 bytes of nibbles
  q4_1: { values: 32, bytes: 20, halves: [0, 2] }, // f16 d, f16 m, 16 bytes of nibbles
  q5_0: { values: 32, bytes: 22, halves: [0] }, // f16 d, u32 high bits, 16 bytes of nibbles
  q5_1: { values: 32, bytes: 24, halves: [0, 2] }, // f16 d, f16 m, u32 high bits, 16 bytes of nibbles
  q8_0: { values: 32, bytes: 34, halves: [0] }, // f16 d, 32 int8
  q2_K: { values: QK_K, bytes: 84, halves: [80, 82] }, // 16 scale|min bytes, 64 bytes of 2-bit quants, f16 d, f16 dmin
  q3_K: { values: QK_K, bytes: 110, halves: [108] }, // 32 bytes high bits, 64 bytes low 2 bits, 12 bytes 6-bit scales, f16 d
  q4_K: { values: QK_K, bytes: 144, halves: [0, 2] }, // f16 d, f16 dmin, 12 bytes 6-bit scales|mins, 128 bytes of nibbles
  q5_K: { values: QK_K, bytes: 176, halves: [0, 2] }, // q4_K's fields plus 32 bytes of high bits before the nibbles
  q6_K: { values: QK_K, bytes: 210, halves: [208] }, // 128 bytes low nibbles, 64 bytes high 2 bits, 16 int8 scales, f16 d
  iq4_nl: { values: 32, bytes: 18, halves: [0] }, // f16 d, 16 bytes of indices into a 16-value table
  iq4_xs: { values: QK_K, bytes: 136, halves: [0] }, // f16 d, u16 high scale bits, 4 bytes low scale bits, 128 bytes of indices
};

export const QUANT_DTYPES = Object.keys(BLOCK_FORMATS) as QuantDType[];

export function isQuantDType(dtype: string): dtype is QuantDType {
  return Object.hasOwn(BLOCK_FORMATS, dtype);
}

/** IQ4_NL's and IQ4_XS's non-linear 4-bit codebook (ggml-common.h kvalues_iq4nl). */
export const KVALUES_IQ4NL: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
