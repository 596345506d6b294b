// Native matmul against the TS reference, on every ISA path, every packing
// (file dtype → packed dtype), odd shapes (partial 16-row panels, odd K for
// f32/bf16, m around the 8-row register tile), with and without bias.
//
// Tolerance: |native − reference| ≤ 1e-5 · Σ_k |w_k·x_k| (+ |bias|), the same
// for all dtypes. Both sides multiply the same values (bf16-rounded x; q8_0
// activations quantized in double like the reference, so no tie rounds
// differently and the int8 dots are exact); only the f32 summation order and
// the f32 product d_w·d_x differ, bounded by K·2⁻²⁴ relative to Σ|w·x|.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { fromFloat32, type TensorDType } from '../../src/kernels/dtype.js';
import type { PackedDType, RawMatrix } from '../../src/kernels/types.js';
import { mulberry32 } from '../helpers/random.js';

type Isa = 'scalar' | 'avx2' | 'avx512';
const ISAS: Isa[] = ['scalar', 'avx2', 'avx512'];

/** Values in ±scale with a per-row scale spread, and a few all-zero 32-blocks (q8_0's d = 0 case). */
function randomValues(rng: () => number, rows: number, cols: number): Float32Array {
  const v = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const scale = 0.1 + 2 * rng();
    for (let c = 0; c < cols; c++) v[r * cols + c] = (2 * rng() - 1) * scale;
    if (cols >= 64 && rng() < 0.2) v.fill(0, r * cols + 32, r * cols + 64);
  }
  return v;
}

function raw(dtype: TensorDType, rows: number, cols: number, values: Float32Array): RawMatrix {
  return { dtype, rows, cols, data: fromFloat32(dtype, values) };
}

const abs = (v: Float32Array) => v.map(Math.abs);

const PACKINGS: Array<[TensorDType, PackedDType]> = [
  ['f32', 'f32'], ['f16', 'f32'], ['bf16', 'f32'], ['q8_0', 'f32'],
  ['bf16', 'bf16'], ['f32', 'bf16'], ['f16', 'bf16'],
  ['f32', 'q8_0'], ['q8_0', 'q8_0'], ['bf16', 'q8_0'],
];
const ROWS = [1, 7, 33, 100];
const M = [1, 3, 17, 64];

function colsFor(src: TensorDType, dst: PackedDType): number[] {
  const blocked = [32, 64, 96, 160];
  return src === 'q8_0' || dst === 'q8_0' ? blocked : [7, 45, ...blocked];
}

interface Case {
  rows: number;
  cols: number;
  m: number;
  w: RawMatrix;
  x: Float32Array;
  bias: Float32Array;
  /** Reference outputs without and with bias, and Σ|w·x| per output. */
  expect: Float32Array;
  expectBias: Float32Array;
  magnitude: Float32Array;
}

function buildCases(src: TensorDType, dst: PackedDType, seed: number): Case[] {
  const rng = mulberry32(seed);
  const cases: Case[] = [];
  for (const rows of ROWS) {
    for (const cols of colsFor(src, dst)) {
      const values = randomValues(rng, rows, cols);
      const w = raw(src, rows, cols, values);
      const refW = referenceKernels.packMatrix(w, dst);
      // Every rounding involved is sign-symmetric, so |W| and |x| give Σ|w·x| of the values multiplied.
      const refAbsW = referenceKernels.packMatrix(raw(src, rows, cols, abs(values)), dst);
      const bias = randomValues(rng, 1, rows);
      for (const m of M) {
        const x = randomValues(rng, m, cols);
        const expect = new Float32Array(m * rows);
        const expectBias = new Float32Array(m * rows);
        const magnitude = new Float32Array(m * rows);
        referenceKernels.matmul(refW, x, m, expect);
        referenceKernels.matmul(refW, x, m, expectBias, bias);
        referenceKernels.matmul(refAbsW, abs(x), m, magnitude);
        cases.push({ rows, cols, m, w, x, bias, expect, expectBias, magnitude });
      }
    }
  }
  return cases;
}

function assertClose(actual: Float32Array, expected: Float32Array, magnitude: Float32Array, bias: Float32Array | undefined, rows: number, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 * (magnitude[i]! + (bias ? Math.abs(bias[i % rows]!) : 0)) + 1e-30;
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!(err <= tol)) assert.fail(`${what}: out[${Math.floor(i / rows)}][${i % rows}] = ${actual[i]}, reference ${expected[i]} (|err| ${err} > ${tol})`);
  }
}

function withIsa(isa: Isa): boolean {
  return addon.setMaxIsa(isa) === isa;
}

after(() => addon.setMaxIsa('avx512'));

PACKINGS.forEach(([src, dst], index) => {
  describe(`matmul: ${src} packed as ${dst} matches the reference`, () => {
    let cases: Case[] | undefined;
    for (const isa of ISAS) {
      it(`on the ${isa} path`, (t) => {
        if (!withIsa(isa)) return t.skip(`this CPU has no ${isa}`);
        cases ??= buildCases(src, dst, 1000 + index);
        for (const c of cases) {
          const w = nativeKernels.packMatrix(c.w, dst);
          const shape = `${isa} [${c.rows}x${c.cols}] m=${c.m}`;
          const out = new Float32Array(c.m * c.rows).fill(NaN);
          nativeKernels.matmul(w, c.x, c.m, out);
          assertClose(out, c.expect, c.magnitude, undefined, c.rows, shape);
          out.fill(NaN);
          nativeKernels.matmul(w, c.x, c.m, out, c.bias);
          assertClose(out, c.expectBias, c.magnitude, c.bias, c.rows, `${shape} +bias`);
        }
      });
    }
  });
});

describe('matmulSplit: a stacked weight into several outputs', () => {
  for (const dst of ['f32', 'bf16', 'q8_0'] as const) {
    for (const isa of ISAS) {
      // Whole panels (q|k|v of a real GQA model: stored straight into each output), widths off
      // the 16-row panels (a panel-straddling cut) and more parts than the direct path takes
      // (both computed into scratch and copied).
      for (const widths of [[48, 16, 16], [40, 8, 8, 21], [16, 16, 16, 16, 32]]) {
        it(`${dst} on the ${isa} path, widths ${widths.join('|')}: each output holds its columns of matmul's result, bit for bit`, (t) => {
          if (!withIsa(isa)) return t.skip(`this CPU has no ${isa}`);
          const rng = mulberry32(21);
          const rows = widths.reduce((a, b) => a + b, 0), cols = 64;
          const raw32 = raw('f32', rows, cols, randomValues(rng, rows, cols));
          const native = nativeKernels.packMatrix(raw32, dst);
          const ref = referenceKernels.packMatrix(raw32, dst);
          const bias = randomValues(rng, 1, rows);
          for (const m of [1, 3, 17]) {
            const x = randomValues(rng, m, cols);
            const whole = new Float32Array(m * rows);
            nativeKernels.matmul(native, x, m, whole, bias);
            const outs = widths.map((wd) => new Float32Array(m * wd).fill(NaN));
            nativeKernels.matmulSplit(native, x, m, outs, bias);
            const refOuts = widths.map((wd) => new Float32Array(m * wd));
            referenceKernels.matmulSplit(ref, x, m, refOuts, bias);
            let col = 0;
            widths.forEach((wd, j) => {
              for (let i = 0; i < m; i++) {
                const expect = whole.subarray(i * rows + col, i * rows + col + wd);
                assert.deepEqual(outs[j]!.subarray(i * wd, (i + 1) * wd), expect, `${dst} m=${m} output ${j} row ${i}`);
                for (let c = 0; c < wd; c++) {
                  const e = refOuts[j]![i * wd + c]!, a = outs[j]![i * wd + c]!;
                  assert.ok(Math.abs(a - e) <= 1e-4 * (1 + Math.abs(e)), `${dst} m=${m} output ${j} [${i}][${c}]: ${a} vs reference ${e}`);
                }
              }
              col += wd;
            });
          }
        });
      }
    }
  }
});

describe('matmul: parallel split', () => {
  it('gives the same result on one thread and on all of them', () => {
    const rng = mulberry32(7);
    const [rows, cols, m] = [200, 96, 40];
    const w = nativeKernels.packMatrix(raw('f32', rows, cols, randomValues(rng, rows, cols)), 'q8_0');
    const x = randomValues(rng, m, cols);
    const all = new Float32Array(m * rows);
    const one = new Float32Array(m * rows);
    nativeKernels.matmul(w, x, m, all);
    const threads = addon.cpuInfo().threads;
    addon.setThreads(1);
    try {
      nativeKernels.matmul(w, x, m, one);
    } finally {
      addon.setThreads(threads);
    }
    // Each output is computed by exactly one tile whatever the split: bit-identical.
    assert.deepEqual(one, all);
  });

  it('stays exact over thousands of calls with the pool spinning, sleeping and resized in between', () => {
    // The pool's workers spin 200 µs after a job, then sleep: calls back to back, calls after a
    // pause past the spin, and pool resizes must all hand every task out exactly once.
    const rng = mulberry32(8);
    const shapes = [[16, 64, 1], [200, 96, 1], [200, 96, 9], [1024, 128, 3]] as const;
    const cases = shapes.map(([rows, cols, m]) => {
      const w = nativeKernels.packMatrix(raw('f32', rows, cols, randomValues(rng, rows, cols)), 'bf16');
      const x = randomValues(rng, m, cols);
      const want = new Float32Array(m * rows);
      nativeKernels.matmul(w, x, m, want);
      return { w, x, m, want, got: new Float32Array(m * rows) };
    });
    const threads = addon.cpuInfo().threads;
    try {
      for (let i = 0; i < 3000; i++) {
        if (i % 500 === 499) addon.setThreads(1 + (i % 3));
        if (i % 97 === 0) {
          const until = performance.now() + 0.5;  // past the spin: workers go to sleep
          while (performance.now() < until) { /* wait */ }
        }
        const c = cases[i % cases.length]!;
        c.got.fill(Number.NaN);
        nativeKernels.matmul(c.w, c.x, c.m, c.got);
        assert.deepEqual(c.got, c.want, `call ${i}`);
      }
    } finally {
      addon.setThreads(threads);
    }
  });
});

describe('matmul: bf16 at prefill-sized m (AMX tdpbf16ps where the CPU has it)', () => {
  // From 16 rows of x, with K a multiple of 32, a CPU with AMX-BF16 runs matmul_amx.cc: x rows in
  // blocks of 32 (a partial last block from a zero-padded copy), panels of 16 outputs (a partial
  // last panel masked), the bias added after. Elsewhere these shapes run the other paths, which
  // must agree just the same.
  const amx = addon.cpuInfo().amxbf16;
  const shapes = [[16, 32, 16], [40, 64, 17], [200, 96, 31], [33, 896, 33], [16, 64, 100], [50, 48, 40]] as const;
  for (const [rows, cols, m] of shapes) {
    it(`[${rows}x${cols}] · ${m} rows of x${amx && cols % 32 === 0 ? ' (AMX)' : ''}, with and without bias`, () => {
      const rng = mulberry32(rows * 7 + m);
      const values = randomValues(rng, rows, cols);
      const w = raw('f32', rows, cols, values);
      const x = randomValues(rng, m, cols);
      const bias = Float32Array.from({ length: rows }, () => rng() - 0.5);
      const native = nativeKernels.packMatrix(w, 'bf16');
      const ref = referenceKernels.packMatrix(w, 'bf16');
      const magnitude = new Float32Array(m * rows);
      referenceKernels.matmul(referenceKernels.packMatrix(raw('f32', rows, cols, abs(values)), 'bf16'), abs(x), m, magnitude);
      for (const b of [undefined, bias]) {
        const got = new Float32Array(m * rows).fill(Number.NaN);
        const expect = new Float32Array(m * rows);
        nativeKernels.matmul(native, x, m, got, b);
        referenceKernels.matmul(ref, x, m, expect, b);
        assertClose(got, expect, magnitude, b, rows, `bf16 [${rows}x${cols}] m=${m}${b ? ' + bias' : ''}`);
      }
    });
  }

  it('matmulSplit into two parts at prefill-sized m agrees with two matmuls', () => {
    const rng = mulberry32(21);
    const [cols, m] = [128, 45];
    const va = randomValues(rng, 32, cols), vb = randomValues(rng, 48, cols);
    const a = raw('f32', 32, cols, va);
    const b = raw('f32', 48, cols, vb);
    const stacked = raw('f32', 80, cols, Float32Array.from([...va, ...vb]));
    const x = randomValues(rng, m, cols);
    const split = [new Float32Array(m * 32), new Float32Array(m * 48)];
    nativeKernels.matmulSplit(nativeKernels.packMatrix(stacked, 'bf16'), x, m, split);
    const wantA = new Float32Array(m * 32), wantB = new Float32Array(m * 48);
    nativeKernels.matmul(nativeKernels.packMatrix(a, 'bf16'), x, m, wantA);
    nativeKernels.matmul(nativeKernels.packMatrix(b, 'bf16'), x, m, wantB);
    assert.deepEqual(split[0], wantA);
    assert.deepEqual(split[1], wantB);
  });
});

describe('matmul: weights of 2 MiB and more (huge-page mappings)', () => {
  for (const dst of ['f32', 'bf16'] as const) {
    it(`${dst}: matches the reference, last row included`, () => {
      const rng = mulberry32(11);
      const [rows, cols, m] = [1001, 1056, 2];  // ≥ 2 MiB packed, a partial last panel and a tail past the last huge page
      const values = randomValues(rng, rows, cols);
      const w = raw('f32', rows, cols, values);
      const x = randomValues(rng, m, cols);
      const native = nativeKernels.packMatrix(w, dst);
      const ref = referenceKernels.packMatrix(w, dst);
      const got = new Float32Array(m * rows);
      const expect = new Float32Array(m * rows);
      const magnitude = new Float32Array(m * rows);
      nativeKernels.matmul(native, x, m, got);
      referenceKernels.matmul(ref, x, m, expect);
      referenceKernels.matmul(referenceKernels.packMatrix(raw('f32', rows, cols, abs(values)), dst), abs(x), m, magnitude);
      assertClose(got, expect, magnitude, undefined, rows, `${dst} [${rows}x${cols}]`);
      const ids = Int32Array.from([rows - 1, 0]);
      const rowsGot = new Float32Array(2 * cols);
      const rowsWant = new Float32Array(2 * cols);
      nativeKernels.embedding(native, ids, rowsGot);
      referenceKernels.embedding(ref, ids, rowsWant);
      assert.deepEqual(rowsGot, rowsWant);
    });
  }
});

describe('matmul: argument errors throw instead of crashing', () => {
  const rng = mulberry32(3);
  const [rows, cols] = [20, 64];
  const data = fromFloat32('f32', randomValues(rng, rows, cols));
  const w = addon.packMatrix(data, 'f32', rows, cols, 'bf16');
  const x = new Float32Array(2 * cols);
  const out = new Float32Array(2 * rows);

  it('rejects a w that is not a packed handle', () => {
    assert.throws(() => addon.matmul({}, x, 2, out, null), TypeError);
    assert.throws(() => addon.matmul(null as unknown as object, x, 2, out, null), TypeError);
    const refW = referenceKernels.packMatrix({ dtype: 'f32', rows, cols, data }, 'f32');
    assert.throws(() => nativeKernels.matmul(refW, x, 2, out), TypeError);
  });

  it('rejects wrong array types', () => {
    assert.throws(() => addon.matmul(w, new Float64Array(2 * cols) as unknown as Float32Array, 2, out, null), TypeError);
    assert.throws(() => addon.matmul(w, x, 2, {} as unknown as Float32Array, null), TypeError);
    assert.throws(() => addon.matmul(w, x, 2, [new Float64Array(2 * rows)] as unknown as Float32Array[], null), TypeError);
    assert.throws(() => addon.matmul(w, x, 2, out, new Int32Array(rows) as unknown as Float32Array), TypeError);
  });

  it('rejects split outputs whose widths do not cover the rows', () => {
    assert.throws(() => addon.matmul(w, x, 2, [], null), RangeError);
    assert.throws(() => addon.matmul(w, x, 2, [new Float32Array(2 * rows - 2)], null), RangeError);
    assert.throws(() => addon.matmul(w, x, 2, [new Float32Array(2 * rows - 1), new Float32Array(1)], null), RangeError);
  });

  it('rejects arrays too short for m, rows and cols', () => {
    assert.throws(() => addon.matmul(w, x.subarray(1), 2, out, null), RangeError);
    assert.throws(() => addon.matmul(w, x, 2, out.subarray(1), null), RangeError);
    assert.throws(() => addon.matmul(w, x, 2, out, new Float32Array(rows - 1)), RangeError);
    assert.throws(() => addon.matmul(w, x, 3, out, null), RangeError);
  });

  it('rejects a bad m and an out that overlaps x', () => {
    assert.throws(() => addon.matmul(w, x, -1, out, null), RangeError);
    assert.throws(() => addon.matmul(w, x, 1.5, out, null), RangeError);
    const shared = new Float32Array(cols + rows);
    assert.throws(() => addon.matmul(w, shared.subarray(0, cols), 1, shared.subarray(cols - 1), null), RangeError);
  });

  it('does nothing for m = 0', () => {
    addon.matmul(w, new Float32Array(0), 0, new Float32Array(0), null);
  });
});

describe('packMatrix: argument errors', () => {
  const data = new Uint8Array(4 * 8 * 64);
  it('checks the data length against dtype and shape', () => {
    assert.throws(() => addon.packMatrix(data, 'f32', 8, 63, 'f32'), /needs 2016/);
    assert.throws(() => addon.packMatrix(data, 'f16', 8, 64, 'bf16'), RangeError);
    assert.throws(() => addon.packMatrix(data.subarray(0, 8 * 2 * 34 - 1), 'q8_0', 8, 64, 'q8_0'), RangeError);
    addon.packMatrix(data.subarray(0, 8 * 2 * 34), 'q8_0', 8, 64, 'f32');
  });
  it('checks dtypes, dimensions and q8_0 block alignment', () => {
    assert.throws(() => addon.packMatrix(data, 'f64', 8, 64, 'f32'), TypeError);
    assert.throws(() => addon.packMatrix(data, 'f32', 8, 64, 'f8' as PackedDType), TypeError);
    assert.throws(() => addon.packMatrix(new Float32Array(8 * 64) as unknown as Uint8Array, 'f32', 8, 64, 'f32'), TypeError);
    assert.throws(() => addon.packMatrix(data, 'f32', 0, 64, 'f32'), RangeError);
    assert.throws(() => addon.packMatrix(data, 'f32', 8.5, 64, 'f32'), RangeError);
    assert.throws(() => addon.packMatrix(data.subarray(0, 4 * 16 * 48), 'f32', 16, 48, 'q8_0'), /divisible by 32/);
  });
});
