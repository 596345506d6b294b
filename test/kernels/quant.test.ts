// The GGML block types packed natively (native/qlayout.h) against the reference backend
// (src/kernels/reference.ts, toFloat32 bit-exact with ggml): embedding of the packed weight and
// repacking to f32/f16 equal the dequantized values bit for bit; matmul and matmulSplit match
// the reference on every ISA path; f16 weights stay f16; packMatrix refuses what it cannot keep.
//
// Matmul tolerance: both sides quantize x identically and multiply the same exact W; native takes
// exact integer dots per sub-block and scales them in f32 (s·d_x, plus mv·d_x·Σq for types with
// a min), so they differ by f32 rounding of a few products and sums per sub-block:
// |native − reference| ≤ 1e-5 · Σ_k |W·x| (+ |bias|).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { BLOCK_FORMATS, QUANT_DTYPES, f16ToF32, f32ToF16, toFloat32, type QuantDType } from '../../src/kernels/dtype.js';
import type { PackedDType, RawMatrix } from '../../src/kernels/types.js';
import { randomQuantMatrix } from '../helpers/quant.js';
import { mulberry32 } from '../helpers/random.js';
import { ISAS } from './isa.js';

after(() => addon.setMaxIsa('avx512'));

/**
 * randomQuantMatrix's blocks (random quant and sub-scale bytes, f16 scales of both signs), with
 * every fifth block's bytes but its f16 fields set to all 0x00 or all 0xff (sub-block scales and
 * quants at their extremes) and some f16 scales zero or subnormal.
 */
function randomWeight(rng: () => number, dtype: QuantDType, rows: number, cols: number): RawMatrix {
  const w = randomQuantMatrix(rng, dtype, rows, cols);
  const { bytes, halves } = BLOCK_FORMATS[dtype];
  for (let b = 0; b < w.data.length / bytes; b++) {
    const blk = w.data.subarray(b * bytes, (b + 1) * bytes);
    if (b % 5 === 4) {
      const keep = halves.map((o) => [blk[o]!, blk[o + 1]!] as const);
      blk.fill(rng() < 0.5 ? 0x00 : 0xff);
      halves.forEach((o, i) => blk.set(keep[i]!, o));
    }
    if (b % 7 === 3) {
      const o = halves[Math.floor(rng() * halves.length)]!;
      const h = rng() < 0.5 ? 0x8000 : 0;
      blk.set(rng() < 0.5 ? [0, h >> 8] : [1 + Math.floor(rng() * 255), (h >> 8) | Math.floor(rng() * 3)], o);
    }
  }
  return w;
}

const pack = (w: RawMatrix, dst: string) => nativeKernels.packMatrix(w, dst as PackedDType);

function colsFor(dtype: QuantDType): number[] {
  return BLOCK_FORMATS[dtype].values === 256 ? [256, 512] : [32, 96, 160];
}

function randomX(rng: () => number, m: number, cols: number): Float32Array {
  const x = new Float32Array(m * cols).map(() => (2 * rng() - 1) * (0.1 + 3 * rng()));
  if (cols >= 64) x.fill(0, 32, 64);  // an all-zero block: d_x = 0
  return x;
}

/** Σ_k |W[n][k]·x[i][k]| for the tolerance. */
function magnitudes(W: Float32Array, rows: number, cols: number, x: Float32Array, m: number): Float64Array {
  const mag = new Float64Array(m * rows);
  for (let i = 0; i < m; i++) {
    for (let n = 0; n < rows; n++) {
      let t = 0;
      for (let k = 0; k < cols; k++) t += Math.abs(W[n * cols + k]! * x[i * cols + k]!);
      mag[i * rows + n] = t;
    }
  }
  return mag;
}

describe('block types: packed weights dequantize exactly as ggml', () => {
  QUANT_DTYPES.forEach((dtype, index) => {
    it(`${dtype}: embedding of the packed weight, and repacking as f32, f16, bf16 and q8_0, equal the reference bit for bit`, () => {
      const rng = mulberry32(900 + index);
      for (const rows of [1, 7, 33]) {
        for (const cols of colsFor(dtype)) {
          const w = randomWeight(rng, dtype, rows, cols);
          const ids = Int32Array.from({ length: rows }, (_, r) => rows - 1 - r);
          for (const dst of [dtype, 'f32', 'f16', 'bf16', 'q8_0'] as PackedDType[]) {
            const got = new Float32Array(rows * cols).fill(NaN);
            const want = new Float32Array(rows * cols);
            nativeKernels.embedding(pack(w, dst), ids, got);
            referenceKernels.embedding(referenceKernels.packMatrix(w, dst), ids, want);
            for (let i = 0; i < want.length; i++) {
              if (!Object.is(got[i], want[i])) assert.fail(`${dtype}→${dst} [${rows}x${cols}] value ${i}: ${got[i]} vs reference ${want[i]}`);
            }
          }
        }
      }
    });
  });
});

describe('block types: matmul matches the reference', () => {
  QUANT_DTYPES.forEach((dtype, index) => {
    for (const isa of ISAS) {
      it(`${dtype} on the ${isa} path`, () => {
        addon.setMaxIsa(isa);
        const rng = mulberry32(1300 + index);
        for (const rows of [1, 7, 33, 100]) {
          for (const cols of colsFor(dtype)) {
            const w = randomWeight(rng, dtype, rows, cols);
            const W = toFloat32(dtype, w.data, rows * cols);
            const native = pack(w, dtype), ref = referenceKernels.packMatrix(w, dtype);
            const bias = new Float32Array(rows).map(() => 2 * rng() - 1);
            for (const m of [1, 3, 17, 64]) {
              if (rows * cols * m > 100 * 512 * 17 && isa === 'scalar') continue;  // keep the scalar path's run short
              const x = randomX(rng, m, cols);
              const mag = magnitudes(W, rows, cols, x, m);
              const got = new Float32Array(m * rows).fill(NaN), want = new Float32Array(m * rows);
              nativeKernels.matmul(native, x, m, got, bias);
              referenceKernels.matmul(ref, x, m, want, bias);
              for (let k = 0; k < got.length; k++) {
                const tol = 1e-5 * (mag[k]! + Math.abs(bias[k % rows]!)) + 1e-30;
                if (!(Math.abs(got[k]! - want[k]!) <= tol)) {
                  assert.fail(`${dtype} ${isa} [${rows}x${cols}] m=${m} out[${Math.floor(k / rows)}][${k % rows}] = ${got[k]}, reference ${want[k]} (tol ${tol})`);
                }
              }
            }
          }
        }
      });
    }
  });

  for (const isa of ISAS) {
    it(`on the ${isa} path, the largest quants against the largest activations sum without saturating`, () => {
      addon.setMaxIsa(isa);
      const rng = mulberry32(31);
      for (const dtype of QUANT_DTYPES) {
        const rows = 17, cols = BLOCK_FORMATS[dtype].values === 256 ? 256 : 64;
        const w = randomQuantMatrix(rng, dtype, rows, cols);
        const { bytes, halves } = BLOCK_FORMATS[dtype];
        for (let b = 0; b < w.data.length / bytes; b++) {
          const blk = w.data.subarray(b * bytes, (b + 1) * bytes);
          const keep = halves.map((o) => [blk[o]!, blk[o + 1]!] as const);
          blk.fill(b % 2 ? 0xff : 0x88);  // every quant and sub-scale at its maximum, or the codebook's +113 / −127 ends
          halves.forEach((o, i) => blk.set(keep[i]!, o));
        }
        const W = toFloat32(dtype, w.data, rows * cols);
        // m = 2 runs the row tiles, m = 5 the AVX2 GEMM (a 3-row tile and a 2-row tail), which
        // adds its pair sums up in int16 over its own runs of groups.
        for (const [sign, m] of [[1, 2], [-1, 2], [1, 5], [-1, 5]] as const) {
          const x = new Float32Array(m * cols).fill(sign);  // every q_x = ±127
          const mag = magnitudes(W, rows, cols, x, m);
          const got = new Float32Array(m * rows), want = new Float32Array(m * rows);
          nativeKernels.matmul(pack(w, dtype), x, m, got);
          referenceKernels.matmul(referenceKernels.packMatrix(w, dtype), x, m, want);
          for (let k = 0; k < got.length; k++) {
            assert.ok(Math.abs(got[k]! - want[k]!) <= 1e-5 * mag[k]! + 1e-30, `${dtype} ${isa} x=${sign} m=${m}: out[${k}] = ${got[k]}, reference ${want[k]}`);
          }
        }
      }
    });
  }

  for (const dtype of ['q4_0', 'q6_K', 'q4_K'] as const) {
    for (const isa of ISAS) {
      it(`${dtype} matmulSplit on the ${isa} path equals matmul, whole panels and odd widths`, () => {
        addon.setMaxIsa(isa);
        const rng = mulberry32(77);
        for (const widths of [[48, 16, 16], [40, 8, 8, 21]]) {
          const rows = widths.reduce((a, b) => a + b, 0), cols = BLOCK_FORMATS[dtype].values === 256 ? 256 : 64;
          const w = pack(randomWeight(rng, dtype, rows, cols), dtype);
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
    it(`matmul on the ${isa} path matches the reference (exact f16 values times f32 x)`, () => {
      addon.setMaxIsa(isa);
      const rng = mulberry32(5);
      for (const [rows, cols, m] of [[1, 7, 1], [33, 45, 3], [100, 64, 17], [20, 96, 64]] as const) {
        const bits = new Uint16Array(rows * cols).map(() => f32ToF16((2 * rng() - 1) * 2 ** (8 * rng() - 6)));
        const w: RawMatrix = { dtype: 'f16', rows, cols, data: new Uint8Array(bits.buffer) };
        const W = Float32Array.from(bits, f16ToF32);
        const native = pack(w, 'f16'), ref = referenceKernels.packMatrix(w, 'f16');
        const x = new Float32Array(m * cols).map(() => 2 * rng() - 1);
        const mag = magnitudes(W, rows, cols, x, m);
        const got = new Float32Array(m * rows), want = new Float32Array(m * rows);
        nativeKernels.matmul(native, x, m, got);
        referenceKernels.matmul(ref, x, m, want);
        for (let k = 0; k < got.length; k++) {
          assert.ok(Math.abs(got[k]! - want[k]!) <= 1e-5 * mag[k]! + 1e-30, `f16 ${isa} [${rows}x${cols}] m=${m} [${k}]: ${got[k]} vs ${want[k]}`);
        }
        const ids = Int32Array.from([rows - 1, 0]);
        const rowsGot = new Float32Array(2 * cols), rowsWant = new Float32Array(2 * cols);
        nativeKernels.embedding(native, ids, rowsGot);
        referenceKernels.embedding(ref, ids, rowsWant);
        assert.deepEqual(rowsGot, rowsWant);
      }
    });
  }
});

describe('packMatrix: a block type stays about its file size in memory', () => {
  it('at most 10% over the file bytes for whole 16-row panels (legacy types, q2_K, q6_K: equal)', (t) => {
    const ratios: string[] = [];
    for (const dtype of QUANT_DTYPES) {
      const rows = 64, cols = 2 * BLOCK_FORMATS[dtype].values * (BLOCK_FORMATS[dtype].values === 32 ? 8 : 1);
      const w = randomQuantMatrix(mulberry32(9), dtype, rows, cols);
      const bytes = addon.packedBytes((pack(w, dtype) as unknown as { handle: object }).handle);
      assert.ok(bytes <= 1.1 * w.data.length, `${dtype}: ${bytes} packed bytes for ${w.data.length} file bytes`);
      ratios.push(`${dtype} ${(bytes / w.data.length).toFixed(3)}`);
    }
    t.diagnostic(`packed / file bytes: ${ratios.join(', ')}`);
  });
});

describe('packMatrix: what it cannot keep is refused clearly', () => {
  const w = randomWeight(mulberry32(3), 'q4_K', 2, 256);
  it('names the missing source for a block-type packing of another dtype', () => {
    assert.throws(() => addon.packMatrix(new Uint8Array(4 * 2 * 256), 'f32', 2, 256, 'q4_K'), /q4_K packing needs a q4_K source/);
    assert.throws(() => addon.packMatrix(w.data, 'q4_K', 2, 256, 'q6_K'), /q6_K packing needs a q6_K source/);
  });
  it('refuses unknown types and rows that are not whole blocks', () => {
    assert.throws(() => addon.packMatrix(w.data, 'iq2_xxs', 2, 256, 'f32'), /srcDtype must be .*q4_K.*got iq2_xxs/);
    assert.throws(() => addon.packMatrix(w.data, 'q4_K', 2, 256, 'iq2_xxs' as PackedDType), /dstDtype must be/);
    assert.throws(() => addon.packMatrix(w.data, 'q4_K', 4, 128, 'q4_K'), /divisible by 256/);
    assert.throws(() => addon.packMatrix(w.data.subarray(1), 'q4_K', 2, 256, 'q4_K'), /needs 288/);
  });
  it('lists every format it keeps', () => {
    assert.deepEqual(new Set(addon.packedDtypes?.()), new Set(['f32', 'bf16', 'f16', ...QUANT_DTYPES]));
  });
});
