// The GGML block types packed natively (native/qlayout.h): dequantization equal to ggml's bit for
// bit (embedding of the packed weight, and packing to f32), matmul against the contract's
// reference on every ISA path, and packMatrix's refusals.
//
// Matmul reference (docs: the quantized-weight contract): each 32-block of a row of x is
// quantized as for q8_0 weights (d = max|x|/127, q = round-half-away(x/d) in double), and
//   out[i][n] = Σ_b d_x[b] · Σ_{j in b} W[n][j] · q_x[j]   (+ bias[n])
// with W ggml's dequantized weight, evaluated here in f64. Native takes exact integer dots per
// sub-block and combines them in f32, so the two differ by f32 rounding of a few products
// and sums per sub-block: |native − reference| ≤ 1e-5 · Σ |W·d_x·q_x| (+ |bias|).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import type { PackedDType, RawMatrix } from '../../src/kernels/types.js';
import type { TensorDType } from '../../src/kernels/dtype.js';
import { mulberry32 } from '../helpers/random.js';
import { BLOCKS, QUANT_NAMES, type QuantName, ggmlDequantize, randomBlocks } from './quant-blocks.js';
import { ISAS } from './isa.js';

after(() => addon.setMaxIsa('avx512'));

function raw(name: QuantName, rows: number, cols: number, data: Uint8Array): RawMatrix {
  // TensorDType gains the block names in src/kernels/dtype.ts (helper quant-ts); the native
  // backend already takes them.
  return { dtype: name as unknown as TensorDType, rows, cols, data };
}

const pack = (w: RawMatrix, dst: string) => nativeKernels.packMatrix(w, dst as PackedDType);

function colsFor(name: QuantName): number[] {
  return BLOCKS[name].values === 256 ? [256, 512] : [32, 96, 160];
}

function quantizeRow(x: Float32Array, offset: number, cols: number): { q: Int8Array; d: Float32Array } {
  const q = new Int8Array(cols), d = new Float32Array(cols / 32);
  for (let b = 0; b < cols / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[offset + 32 * b + j]!));
    const db = Math.fround(amax / 127);
    const id = db ? 1 / db : 0;
    d[b] = db;
    for (let j = 0; j < 32; j++) {
      const v = x[offset + 32 * b + j]! * id;
      q[32 * b + j] = v < 0 ? -Math.round(-v) : Math.round(v);
    }
  }
  return { q, d };
}

/** The contract's matmul over dequantized weights W [rows][cols], with Σ|terms| for the tolerance. */
function referenceMatmul(W: Float32Array, rows: number, cols: number, x: Float32Array, m: number) {
  const out = new Float64Array(m * rows), mag = new Float64Array(m * rows);
  for (let i = 0; i < m; i++) {
    const { q, d } = quantizeRow(x, i * cols, cols);
    for (let n = 0; n < rows; n++) {
      let acc = 0, abs = 0;
      for (let b = 0; b < cols / 32; b++) {
        let dot = 0, adot = 0;
        for (let j = 32 * b; j < 32 * b + 32; j++) {
          dot += W[n * cols + j]! * q[j]!;
          adot += Math.abs(W[n * cols + j]! * q[j]!);
        }
        acc += d[b]! * dot;
        abs += d[b]! * adot;
      }
      out[i * rows + n] = acc;
      mag[i * rows + n] = abs;
    }
  }
  return { out, mag };
}

function randomX(rng: () => number, m: number, cols: number): Float32Array {
  const x = new Float32Array(m * cols).map(() => (2 * rng() - 1) * (0.1 + 3 * rng()));
  if (cols >= 64) x.fill(0, 32, 64);  // an all-zero block: d_x = 0
  return x;
}

describe('block types: packed weights dequantize exactly as ggml', () => {
  QUANT_NAMES.forEach((name, index) => {
    it(`${name}: embedding of the packed weight, and packing to f32, equal ggml's dequantize_row bit for bit`, () => {
      const rng = mulberry32(900 + index);
      for (const rows of [1, 7, 33]) {
        for (const cols of colsFor(name)) {
          const data = randomBlocks(rng, name, rows * cols);
          const want = ggmlDequantize(name, data, rows * cols);
          const ids = Int32Array.from({ length: rows }, (_, r) => r);
          for (const dst of [name, 'f32']) {
            const got = new Float32Array(rows * cols).fill(NaN);
            nativeKernels.embedding(pack(raw(name, rows, cols, data), dst), ids, got);
            for (let i = 0; i < want.length; i++) {
              if (!Object.is(got[i], want[i])) assert.fail(`${name}→${dst} [${rows}x${cols}] value ${i}: ${got[i]} vs ggml ${want[i]}`);
            }
          }
        }
      }
    });
  });
});

describe('block types: matmul matches the reference', () => {
  QUANT_NAMES.filter((n) => n !== 'q8_0').forEach((name, index) => {
    for (const isa of ISAS) {
      it(`${name} on the ${isa} path`, () => {
        addon.setMaxIsa(isa);
        const rng = mulberry32(1300 + index);
        for (const rows of [1, 7, 33, 100]) {
          for (const cols of colsFor(name)) {
            const data = randomBlocks(rng, name, rows * cols);
            const W = ggmlDequantize(name, data, rows * cols);
            const w = pack(raw(name, rows, cols, data), name);
            const bias = new Float32Array(rows).map(() => 2 * rng() - 1);
            for (const m of [1, 3, 17, 64]) {
              if (rows * cols * m > 100 * 512 * 17 && isa === 'scalar') continue;  // keep the scalar path's run short
              const x = randomX(rng, m, cols);
              const { out, mag } = referenceMatmul(W, rows, cols, x, m);
              const got = new Float32Array(m * rows).fill(NaN);
              nativeKernels.matmul(w, x, m, got, bias);
              for (let k = 0; k < got.length; k++) {
                const want = out[k]! + bias[k % rows]!;
                const tol = 1e-5 * (mag[k]! + Math.abs(bias[k % rows]!)) + 1e-30;
                if (!(Math.abs(got[k]! - want) <= tol)) {
                  assert.fail(`${name} ${isa} [${rows}x${cols}] m=${m} out[${Math.floor(k / rows)}][${k % rows}] = ${got[k]}, reference ${want} (tol ${tol})`);
                }
              }
            }
          }
        }
      });
    }
  });

  for (const name of ['q4_0', 'q6_K', 'q4_K'] as const) {
    for (const isa of ISAS) {
      it(`${name} matmulSplit on the ${isa} path equals matmul, whole panels and odd widths`, () => {
        addon.setMaxIsa(isa);
        const rng = mulberry32(77);
        for (const widths of [[48, 16, 16], [40, 8, 8, 21]]) {
          const rows = widths.reduce((a, b) => a + b, 0), cols = BLOCKS[name].values === 256 ? 256 : 64;
          const w = pack(raw(name, rows, cols, randomBlocks(rng, name, rows * cols)), name);
          for (const m of [1, 3, 17]) {
            const x = randomX(rng, m, cols);
            const whole = new Float32Array(m * rows);
            nativeKernels.matmul(w, x, m, whole);
            const outs = widths.map((wd) => new Float32Array(m * wd).fill(NaN));
            nativeKernels.matmulSplit(w, x, m, outs);
            let col = 0;
            widths.forEach((wd, j) => {
              for (let i = 0; i < m; i++) {
                assert.deepEqual(outs[j]!.subarray(i * wd, (i + 1) * wd), whole.subarray(i * rows + col, i * rows + col + wd), `m=${m} part ${j} row ${i}`);
              }
              col += wd;
            });
          }
        }
      });
    }
  }
});

describe('f16 weights stay f16', () => {
  for (const isa of ISAS) {
    it(`matmul on the ${isa} path: exact f16 values times f32 x, f32 sums`, () => {
      addon.setMaxIsa(isa);
      const rng = mulberry32(5);
      for (const [rows, cols, m] of [[1, 7, 1], [33, 45, 3], [100, 64, 17], [20, 96, 64]] as const) {
        const bits = new Uint16Array(rows * cols).map(() => (rng() < 0.5 ? 0x8000 : 0) | (Math.floor(rng() * 0x7bff)));
        const W = Float32Array.from(bits, (h) => {
          const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 0x3ff;
          return e === 0 ? s * f * 2 ** -24 : s * (1 + f / 1024) * 2 ** (e - 15);
        });
        const w = pack({ dtype: 'f16', rows, cols, data: new Uint8Array(bits.buffer) }, 'f16');
        const x = new Float32Array(m * cols).map(() => 2 * rng() - 1);
        const got = new Float32Array(m * rows);
        nativeKernels.matmul(w, x, m, got);
        for (let i = 0; i < m; i++) {
          for (let n = 0; n < rows; n++) {
            let acc = 0, mag = 0;
            for (let k = 0; k < cols; k++) {
              acc += W[n * cols + k]! * x[i * cols + k]!;
              mag += Math.abs(W[n * cols + k]! * x[i * cols + k]!);
            }
            assert.ok(Math.abs(got[i * rows + n]! - acc) <= 1e-5 * mag + 1e-30, `f16 ${isa} [${rows}x${cols}] m=${m} [${i}][${n}]: ${got[i * rows + n]} vs ${acc}`);
          }
        }
        const ids = Int32Array.from([rows - 1, 0]);
        const rowsGot = new Float32Array(2 * cols);
        nativeKernels.embedding(w, ids, rowsGot);
        assert.deepEqual(rowsGot, Float32Array.from([...W.subarray((rows - 1) * cols, rows * cols), ...W.subarray(0, cols)]));
      }
    });
  }
});

describe('packMatrix: block types it cannot keep are refused clearly', () => {
  const data = randomBlocks(mulberry32(3), 'q4_K', 2 * 256);
  it('names the missing source for a block-type packing of another dtype', () => {
    assert.throws(() => addon.packMatrix(new Uint8Array(4 * 2 * 256), 'f32', 2, 256, 'q4_K' as PackedDType), /q4_K packing needs a q4_K source/);
    assert.throws(() => addon.packMatrix(data, 'q4_K', 2, 256, 'q6_K' as PackedDType), /q6_K packing needs a q6_K source/);
    assert.throws(() => addon.packMatrix(new Uint8Array(4 * 2 * 256), 'f32', 2, 256, 'f16' as PackedDType), /f16 packing needs an f16 source/);
  });
  it('refuses unknown types and rows that are not whole blocks', () => {
    assert.throws(() => addon.packMatrix(data, 'iq2_xxs', 2, 256, 'f32'), /srcDtype must be .*q4_K.*got iq2_xxs/);
    assert.throws(() => addon.packMatrix(data, 'q4_K', 2, 256, 'iq2_xxs' as PackedDType), /dstDtype must be/);
    assert.throws(() => addon.packMatrix(data, 'q4_K', 4, 128, 'q4_K' as PackedDType), /divisible by 256/);
    assert.throws(() => addon.packMatrix(data.subarray(1), 'q4_K', 2, 256, 'q4_K' as PackedDType), /needs 288/);
  });
});
