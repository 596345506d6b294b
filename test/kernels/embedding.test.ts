// Native embedding (row gather from a packed matrix) against the TS reference:
// rows come back exactly as the reference packs them, for every packing and
// for shapes that leave the last 16-row panel partial.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { fromFloat32, type TensorDType } from '../../src/kernels/dtype.js';
import type { PackedDType, RawMatrix } from '../../src/kernels/types.js';
import { mulberry32 } from '../helpers/random.js';

function randomRaw(rng: () => number, dtype: TensorDType, rows: number, cols: number): RawMatrix {
  const values = new Float32Array(rows * cols).map(() => (2 * rng() - 1) * 3);
  return { dtype, rows, cols, data: fromFloat32(dtype, values) };
}

const PACKINGS: Array<[TensorDType, PackedDType]> = [
  ['f32', 'f32'], ['f16', 'f32'], ['bf16', 'f32'], ['q8_0', 'f32'],
  ['bf16', 'bf16'], ['f32', 'bf16'], ['f16', 'bf16'],
  ['f32', 'q8_0'], ['q8_0', 'q8_0'], ['bf16', 'q8_0'],
];

describe('embedding: gathers rows exactly as the reference', () => {
  PACKINGS.forEach(([src, dst], index) => {
    it(`${src} packed as ${dst}`, () => {
      const rng = mulberry32(500 + index);
      for (const rows of [1, 7, 33, 100]) {
        for (const cols of src === 'q8_0' || dst === 'q8_0' ? [32, 96, 160] : [7, 45, 64]) {
          const w = randomRaw(rng, src, rows, cols);
          const native = nativeKernels.packMatrix(w, dst);
          const ref = referenceKernels.packMatrix(w, dst);
          const ids = Int32Array.from([0, rows - 1, ...Array.from({ length: 9 }, () => Math.floor(rng() * rows)), 0]);
          const got = new Float32Array(ids.length * cols).fill(NaN);
          const want = new Float32Array(ids.length * cols);
          nativeKernels.embedding(native, ids, got);
          referenceKernels.embedding(ref, ids, want);
          assert.deepEqual(got, want, `${src}→${dst} [${rows}x${cols}]`);
        }
      }
    });
  });

  it('writes nothing for an empty id list', () => {
    const w = nativeKernels.packMatrix(randomRaw(mulberry32(1), 'f32', 4, 8), 'bf16');
    nativeKernels.embedding(w, new Int32Array(0), new Float32Array(0));
  });
});

describe('embedding: errors', () => {
  const rows = 10, cols = 32;
  const w = nativeKernels.packMatrix(randomRaw(mulberry32(2), 'f32', rows, cols), 'q8_0');

  it('rejects an out-of-range id and leaves out untouched', () => {
    const out = new Float32Array(3 * cols).fill(7);
    assert.throws(() => nativeKernels.embedding(w, Int32Array.from([0, rows, 1]), out), /out of range/);
    assert.throws(() => nativeKernels.embedding(w, Int32Array.from([-1]), out), RangeError);
    assert.ok(out.every((v) => v === 7));
  });

  it('rejects wrong array types and a short out', () => {
    const handle = (w as unknown as { handle: object }).handle;
    assert.throws(() => addon.embedding(handle, new Float32Array([1]) as unknown as Int32Array, new Float32Array(cols)), TypeError);
    assert.throws(() => addon.embedding(handle, Int32Array.from([1]), new Float64Array(cols) as unknown as Float32Array), TypeError);
    assert.throws(() => addon.embedding(handle, Int32Array.from([1, 2]), new Float32Array(2 * cols - 1)), RangeError);
    assert.throws(() => addon.embedding({}, Int32Array.from([1]), new Float32Array(cols)), TypeError);
  });
});
