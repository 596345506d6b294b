// Random quantized weights for kernel tests: random bytes (every quant and sub-scale bit
// pattern occurs) with the f16 super-scales and mins set to seeded values of either sign, so
// the dequantized weights stay within a few units.
import { BLOCK_FORMATS, f32ToF16, type QuantDType } from '../../src/kernels/dtype.js';
import type { RawMatrix } from '../../src/kernels/types.js';

export function randomQuantMatrix(rng: () => number, dtype: QuantDType, rows: number, cols: number): RawMatrix {
  const { values, bytes, halves } = BLOCK_FORMATS[dtype];
  if (cols % values !== 0) throw new RangeError(`${dtype} needs cols divisible by ${values}, got ${cols}`);
  const blocks = (rows * cols) / values;
  const data = new Uint8Array(blocks * bytes);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng() * 256);
  // Sub-block scales reach 63 (K-quants) and quants 127 (q8_0): keep the super-scale near 1/(sub-scale · quant range).
  const scale = values === 32 ? (dtype === 'q8_0' ? 0.01 : 0.1) : 0.002;
  for (let b = 0; b < blocks; b++) {
    for (const off of halves) {
      const h = f32ToF16((2 * rng() - 1) * scale);
      data[b * bytes + off] = h & 0xff;
      data[b * bytes + off + 1] = h >> 8;
    }
  }
  return { dtype, rows, cols, data };
}
