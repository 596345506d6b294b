// The reference backend on every quantized type and f16: packing keeps the exact dequantized
// values, matmul follows the contract (x quantized per 32-block, W exact), repacking a quantized
// source dequantizes first. Native kernels are tested against these semantics.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromFloat32, QUANT_DTYPES, toFloat32, type QuantDType } from '../../src/kernels/dtype.js';
import { referenceKernels as ref } from '../../src/kernels/reference.js';
import type { RawMatrix } from '../../src/kernels/types.js';
import { randomQuantMatrix } from '../helpers/quant.js';
import { mulberry32 } from '../helpers/random.js';

const colsOf = (dtype: QuantDType) => (dtype.endsWith('_K') || dtype === 'iq4_xs' ? 512 : 96);

function randomX(rng: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * (rng() < 0.1 ? 8 : 1));
}

function f32Raw(rows: number, cols: number, values: Float32Array): RawMatrix {
  return { dtype: 'f32', rows, cols, data: new Uint8Array(values.buffer.slice(0)) };
}

describe('reference kernels on quantized weights', () => {
  QUANT_DTYPES.forEach((dtype, index) => {
    describe(dtype, () => {
      const rng = mulberry32(500 + index);
      const rows = 5, cols = colsOf(dtype), m = 3;
      const raw = randomQuantMatrix(rng, dtype, rows, cols);
      const W = toFloat32(dtype, raw.data, rows * cols);
      const w = ref.packMatrix(raw, dtype);

      it('keeps the weight in its type; embedding gives the exact dequantized rows', () => {
        assert.equal(w.dtype, dtype);
        const out = new Float32Array(2 * cols);
        ref.embedding(w, Int32Array.from([3, 0]), out);
        assert.deepEqual(out.subarray(0, cols), W.subarray(3 * cols, 4 * cols));
        assert.deepEqual(out.subarray(cols), W.subarray(0, cols));
      });

      it('matmul is W·x up to the rounding of x to 32-block int8 (and no further)', () => {
        const x = randomX(rng, m * cols);
        const bias = randomX(rng, rows);
        const out = new Float32Array(m * rows);
        ref.matmul(w, x, m, out, bias);
        for (let i = 0; i < m; i++) {
          for (let n = 0; n < rows; n++) {
            let exact = bias[n]!, bound = 0;
            for (let b = 0; b < cols / 32; b++) {
              let amax = 0, absW = 0;
              for (let j = b * 32; j < (b + 1) * 32; j++) {
                amax = Math.max(amax, Math.abs(x[i * cols + j]!));
                absW += Math.abs(W[n * cols + j]!);
                exact += W[n * cols + j]! * x[i * cols + j]!;
              }
              // Each x moves by at most half a step d_x = amax/127.
              bound += (amax / 127 / 2) * absW;
            }
            const got = out[i * rows + n]!;
            assert.ok(Math.abs(got - exact) <= bound * 1.0001 + 1e-6, `out[${i}][${n}] = ${got}, W·x = ${exact}, bound ${bound}`);
          }
        }
      });

      it('matmulSplit equals matmul', () => {
        const x = randomX(rng, m * cols);
        const all = new Float32Array(m * rows);
        ref.matmul(w, x, m, all);
        const a = new Float32Array(m * 2), b = new Float32Array(m * 3);
        ref.matmulSplit(w, x, m, [a, b]);
        for (let i = 0; i < m; i++) {
          assert.deepEqual(a.subarray(i * 2, i * 2 + 2), all.subarray(i * rows, i * rows + 2));
          assert.deepEqual(b.subarray(i * 3, i * 3 + 3), all.subarray(i * rows + 2, i * rows + 5));
        }
      });

      it('repacks as f32, bf16 and q8_0 by dequantizing first', () => {
        for (const dst of (['f32', 'bf16', 'q8_0'] as const).filter((d) => d !== dtype)) {
          const viaF32 = ref.packMatrix(f32Raw(rows, cols, W), dst);
          const direct = ref.packMatrix(raw, dst);
          const a = new Float32Array(rows * cols), b = new Float32Array(rows * cols);
          const ids = Int32Array.from({ length: rows }, (_, r) => r);
          ref.embedding(viaF32, ids, a);
          ref.embedding(direct, ids, b);
          assert.deepEqual(b, a, dst);
        }
      });

      it('refuses to quantize another type into it', () => {
        if (dtype === 'q8_0') return;
        assert.throws(() => ref.packMatrix(f32Raw(rows, cols, W), dtype), /cannot pack f32 as/);
      });
    });
  });

  it('q4_0 matmul on values where every step is exact: the integer dot', () => {
    // One block, d = 1 (f16 0x3c00): nibbles 0..15 give weights −8..7 (low nibbles first).
    const data = new Uint8Array(18);
    data[1] = 0x3c;
    for (let j = 0; j < 16; j++) data[2 + j] = j | ((15 - j) << 4);
    const w = ref.packMatrix({ dtype: 'q4_0', rows: 1, cols: 32, data }, 'q4_0');
    // max|x| = 127 so d_x = 1 and x quantizes to itself.
    const x = Float32Array.from({ length: 32 }, (_, j) => (j === 5 ? 127 : j - 16));
    const out = new Float32Array(1);
    ref.matmul(w, x, 1, out);
    let want = 0;
    for (let j = 0; j < 32; j++) want += (j < 16 ? j - 8 : 15 - (j - 16) - 8) * x[j]!;
    assert.equal(out[0], want);
  });
});

describe('reference kernels on f16 weights', () => {
  it('keep the f16 values and multiply x unrounded', () => {
    const rng = mulberry32(77);
    const rows = 4, cols = 40, m = 2;
    const values = randomX(rng, rows * cols);
    const f16 = ref.packMatrix({ dtype: 'f16', rows, cols, data: fromFloat32('f16', values) }, 'f16');
    const exact = toFloat32('f16', fromFloat32('f16', values), rows * cols);
    const f32 = ref.packMatrix(f32Raw(rows, cols, exact), 'f32');
    const x = randomX(rng, m * cols);
    const a = new Float32Array(m * rows), b = new Float32Array(m * rows);
    ref.matmul(f16, x, m, a);
    ref.matmul(f32, x, m, b);
    assert.deepEqual(a, b);
    // An f32 source packed as f16 rounds to nearest even.
    const packed = ref.packMatrix(f32Raw(rows, cols, values), 'f16');
    ref.matmul(packed, x, m, a);
    assert.deepEqual(a, b);
  });
});
