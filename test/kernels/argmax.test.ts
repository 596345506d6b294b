// Native argmax against the TS reference on every ISA path: random rows of lengths that hit
// the vector body and the scalar tail, a 150k-vocab batch (threaded over rows), and the
// edge cases the contract names: ties (the first maximum wins), NaN (never wins), all NaN
// (0), all -inf (the first), and a maximum in the last element.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import { argmaxRow, referenceKernels } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';
import { forEachIsa } from './isa.js';

after(() => addon.setMaxIsa('avx512'));

function both(x: Float32Array, rows: number): { native: Int32Array; reference: Int32Array } {
  const native = new Int32Array(rows).fill(-7), reference = new Int32Array(rows);
  nativeKernels.argmax(x, native);
  referenceKernels.argmax(x, reference);
  return { native, reference };
}

describe('argmax', () => {
  it('matches the reference on random rows of every length class', () => {
    const rng = mulberry32(5);
    forEachIsa((isa) => {
      for (const [rows, cols] of [[1, 1], [1, 7], [3, 32], [2, 33], [5, 1000], [32, 151936 / 8]] as const) {
        const x = new Float32Array(rows * cols);
        for (let i = 0; i < x.length; i++) x[i] = Math.round((2 * rng() - 1) * 50) / 4;  // many ties
        const { native, reference } = both(x, rows);
        assert.deepEqual(native, reference, `${isa} ${rows}x${cols}`);
      }
    });
  });

  it('picks the first of tied maxima, skips NaN, and handles all-NaN and all -inf rows', () => {
    const nan = Number.NaN, inf = Number.POSITIVE_INFINITY;
    const cases: Array<[number[], number]> = [
      [[1, 3, 3, 2], 1],
      [[nan, 1, 2, nan], 2],
      [[nan, nan, nan], 0],
      [[-inf, -inf], 0],
      [[nan, -inf, -inf], 1],
      [[0, -0, 0], 0],
      [[...Array.from({ length: 40 }, () => -1), 5], 40],
      [[inf, 1e30, inf], 0],
    ];
    forEachIsa((isa) => {
      for (const [row, want] of cases) {
        const x = Float32Array.from(row);
        assert.equal(argmaxRow(x), want, `reference on [${row}]`);
        const { native } = both(x, 1);
        assert.equal(native[0], want, `${isa} on [${row}]`);
      }
    });
  });

  it('rejects x that is not whole rows, and does nothing for no rows', () => {
    assert.throws(() => nativeKernels.argmax(new Float32Array(10), new Int32Array(3)), /not a whole number of rows/);
    assert.throws(() => referenceKernels.argmax(new Float32Array(10), new Int32Array(3)), /not a whole number of rows/);
    nativeKernels.argmax(new Float32Array(0), new Int32Array(0));
  });
});
