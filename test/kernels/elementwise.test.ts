// Native rmsnorm, rope, siluMul, geluTanhMul, softcap and add against the TS reference, on every ISA
// path, at sizes that hit the vector body, the scalar tail and the threaded split.
//
// Tolerance: |native − reference| ≤ 1e-5·(1 + |reference|) (add: exact).
// rope: the native kernel forms each angle as the f32 product pos·invFreq[j],
// as Hugging Face and llama.cpp do, while the reference multiplies in f64; so
// the expected rows come from the reference at position 1 with invFreq' =
// f32(pos·invFreq), which is the same rotation with the f32 angle.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import type { RopeStyle } from '../../src/kernels/types.js';
import { mulberry32 } from '../helpers/random.js';
import { assertClose, forEachIsa, type Isa } from './isa.js';


function randomArray(rng: () => number, n: number, scale = 1): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng() - 1) * scale;
  return v;
}

after(() => addon.setMaxIsa('avx512'));

describe('rmsnorm', () => {
  // dim 13: all tail; 64: whole vectors; 896: Qwen2.5-0.5B; rows × dim past 32K floats: threaded.
  const SHAPES: Array<[rows: number, dim: number]> = [[1, 13], [3, 64], [5, 288], [1, 896], [17, 896], [64, 896], [40, 1001]];

  for (const [rows, dim] of SHAPES) {
    it(`matches the reference for ${rows} row(s) of ${dim}, into a new array and in place`, () => {
      const rng = mulberry32(rows * 10007 + dim);
      const x = randomArray(rng, rows * dim, 3);
      const weight = randomArray(rng, dim, 2);
      const expected = new Float32Array(x.length);
      referenceKernels.rmsnorm(x, weight, 1e-6, expected);
      forEachIsa((isa) => {
        const out = new Float32Array(x.length);
        nativeKernels.rmsnorm(x, weight, 1e-6, out);
        assertClose(out, expected, `${isa}, out`);
        const inPlace = x.slice();
        nativeKernels.rmsnorm(inPlace, weight, 1e-6, inPlace);
        assertClose(inPlace, expected, `${isa}, in place`);
      });
    });
  }

  it('rejects x that is not whole rows, or an out of another length', () => {
    const w = new Float32Array(8);
    assert.throws(() => nativeKernels.rmsnorm(new Float32Array(12), w, 1e-5, new Float32Array(12)), RangeError);
    assert.throws(() => nativeKernels.rmsnorm(new Float32Array(16), w, 1e-5, new Float32Array(8)), RangeError);
  });
});

describe('rope', () => {
  const STYLES: RopeStyle[] = ['interleaved', 'neox'];

  function invFreqFor(headDim: number, theta: number): Float32Array {
    return Float32Array.from({ length: headDim / 2 }, (_, j) => 1 / theta ** ((2 * j) / headDim));
  }

  /** The reference rotation of each token with the f32 angle f32(pos·invFreq[j]). */
  function expectedRope(x: Float32Array, positions: Int32Array, heads: number, headDim: number, invFreq: Float32Array, style: RopeStyle) {
    const out = x.slice();
    const row = heads * headDim;
    positions.forEach((pos, t) => {
      const angles = Float32Array.from(invFreq, (f) => pos * f); // rounds each product to f32
      referenceKernels.rope(out.subarray(t * row, (t + 1) * row), Int32Array.of(1), heads, headDim, angles, style);
    });
    return out;
  }

  const SHAPES: Array<[tokens: number, heads: number, headDim: number, theta: number]> = [
    [1, 14, 64, 1e6], // Qwen2.5 decode
    [7, 2, 64, 1e6],
    [3, 8, 8, 1e4], // stories260K heads
    [5, 4, 12, 1e4], // half = 6: vector body and scalar tail
    [50, 4, 128, 5e5], // threaded split (50·4·128 > 32K floats)
    [2, 3, 2, 1e4], // one pair per head
  ];

  for (const style of STYLES) {
    for (const [tokens, heads, headDim, theta] of SHAPES) {
      it(`${style}: ${tokens} token(s) × ${heads} heads × ${headDim} at positions up to 100000`, () => {
        const rng = mulberry32(tokens * 131 + heads * 17 + headDim);
        const positions = Int32Array.from({ length: tokens }, (_, t) => (t === 0 ? 0 : Math.floor(rng() * 100001)));
        const x = randomArray(rng, tokens * heads * headDim, 2);
        const invFreq = invFreqFor(headDim, theta);
        const expected = expectedRope(x, positions, heads, headDim, invFreq, style);
        forEachIsa((isa) => {
          const out = x.slice();
          nativeKernels.rope(out, positions, heads, headDim, invFreq, style);
          assertClose(out, expected, `${isa}`);
        });
      });
    }

    it(`${style}: equals the reference itself where pos·invFreq is exact in f32 (angles up to 1e5 rad)`, () => {
      // Power-of-two frequencies make every product exact, so the two angle
      // conventions agree and this checks sin/cos range reduction at large angles.
      const rng = mulberry32(99);
      const heads = 3, headDim = 32;
      const invFreq = Float32Array.from({ length: headDim / 2 }, (_, j) => 2 ** -j);
      const positions = Int32Array.from([0, 1, 2, 4095, 65535, 99999, 100000, 131071]);
      const x = randomArray(rng, positions.length * heads * headDim, 2);
      const expected = x.slice();
      referenceKernels.rope(expected, positions, heads, headDim, invFreq, style);
      forEachIsa((isa) => {
        const out = x.slice();
        nativeKernels.rope(out, positions, heads, headDim, invFreq, style);
        assertClose(out, expected, isa);
      });
    });
  }

  it('stays within the f32-angle rounding of the f64 reference for real frequencies', () => {
    // |Δangle| ≤ |angle|·2⁻²⁴ moves a pair of norm r by at most r·|Δangle|.
    const rng = mulberry32(5);
    const heads = 2, headDim = 64;
    const invFreq = invFreqFor(headDim, 1e4);
    const positions = Int32Array.from([3, 1000, 50000, 100000]);
    const x = randomArray(rng, positions.length * heads * headDim, 1);
    for (const style of STYLES) {
      const expected = x.slice();
      referenceKernels.rope(expected, positions, heads, headDim, invFreq, style);
      const out = x.slice();
      nativeKernels.rope(out, positions, heads, headDim, invFreq, style);
      const half = headDim / 2;
      for (let t = 0; t < positions.length; t++) {
        for (let h = 0; h < heads; h++) {
          for (let j = 0; j < half; j++) {
            const base = (t * heads + h) * headDim;
            const [i0, i1] = style === 'interleaved' ? [base + 2 * j, base + 2 * j + 1] : [base + j, base + j + half];
            const r = Math.hypot(x[i0]!, x[i1]!);
            const tol = 1e-5 + r * positions[t]! * invFreq[j]! * 2 ** -24 * 1.01;
            assert.ok(Math.abs(out[i0]! - expected[i0]!) <= tol && Math.abs(out[i1]! - expected[i1]!) <= tol, `${style} t=${t} j=${j}`);
          }
        }
      }
    }
  });

  it('rejects an odd headDim, a short invFreq and x of the wrong size', () => {
    const x = new Float32Array(2 * 4 * 8);
    const pos = Int32Array.of(0, 1);
    assert.throws(() => nativeKernels.rope(x, pos, 4, 7, new Float32Array(3), 'neox'), RangeError);
    assert.throws(() => nativeKernels.rope(x, pos, 4, 8, new Float32Array(3), 'neox'), RangeError);
    assert.throws(() => nativeKernels.rope(x.subarray(1), pos, 4, 8, new Float32Array(4), 'neox'), RangeError);
  });
});

describe('geluTanhMul', () => {
  for (const n of [1, 7, 64, 6912, 100003]) {
    it(`matches the reference on ${n} elements, into a new array and into gate`, () => {
      const rng = mulberry32(n + 1);
      const gate = randomArray(rng, n, 8);
      const extremes = [0, -0, 100, -100, 30, -30, 1e-30, -1e-3];
      for (let i = 0; i < Math.min(n, extremes.length); i++) gate[(i * 7919) % n] = extremes[i]!;
      const up = randomArray(rng, n, 2);
      const expected = new Float32Array(n);
      referenceKernels.geluTanhMul(gate, up, expected);
      forEachIsa((isa) => {
        const out = new Float32Array(n);
        nativeKernels.geluTanhMul(gate, up, out);
        assertClose(out, expected, `${isa}, out`);
        const g = gate.slice();
        nativeKernels.geluTanhMul(g, up, g);
        assertClose(g, expected, `${isa}, in place`);
      });
    });
  }

  it('is gelu, not silu: gelu_tanh(1) = 0.8411920', () => {
    const out = new Float32Array(1);
    nativeKernels.geluTanhMul(Float32Array.of(1), Float32Array.of(1), out);
    assert.ok(Math.abs(out[0]! - 0.841192) < 1e-6, String(out[0]));
  });

  it('rejects arrays of different lengths', () => {
    assert.throws(() => nativeKernels.geluTanhMul(new Float32Array(4), new Float32Array(5), new Float32Array(4)), RangeError);
  });
});

describe('softcap', () => {
  for (const n of [1, 7, 1024, 262147]) {
    it(`matches the reference on ${n} elements, caps 30 and 50`, () => {
      const rng = mulberry32(n + 2);
      for (const cap of [30, 50]) {
        const x = randomArray(rng, n, 80);
        const extremes = [0, -0, 1e6, -1e6, 1e-20, 29.9];
        for (let i = 0; i < Math.min(n, extremes.length); i++) x[(i * 7919) % n] = extremes[i]!;
        const expected = x.slice();
        referenceKernels.softcap(expected, cap);
        forEachIsa((isa) => {
          const out = x.slice();
          nativeKernels.softcap(out, cap);
          // Absolute: tanh near 0 is good to a few ulp of cap, not of the (tiny) value.
          for (let i = 0; i < n; i++) assert.ok(Math.abs(out[i]! - expected[i]!) <= 1e-5 * cap, `${isa}, cap ${cap}, element ${i}: ${out[i]} vs ${expected[i]}`);
        });
      }
    });
  }

  it('rejects a cap that is not positive', () => {
    assert.throws(() => nativeKernels.softcap(new Float32Array(4), 0), RangeError);
    assert.throws(() => nativeKernels.softcap(new Float32Array(4), -1), RangeError);
  });
});

describe('siluMul', () => {
  // 100003: threaded with a ragged end; values up to ±30 plus saturating extremes.
  for (const n of [1, 7, 64, 4864, 100003]) {
    it(`matches the reference on ${n} elements, into a new array and into gate`, () => {
      const rng = mulberry32(n);
      const gate = randomArray(rng, n, 30);
      const extremes = [0, -0, 100, -100, 88.7, -88.7, 1e-30];
      for (let i = 0; i < Math.min(n, extremes.length); i++) gate[(i * 7919) % n] = extremes[i]!;
      const up = randomArray(rng, n, 2);
      const expected = new Float32Array(n);
      referenceKernels.siluMul(gate, up, expected);
      forEachIsa((isa) => {
        const out = new Float32Array(n);
        nativeKernels.siluMul(gate, up, out);
        assertClose(out, expected, `${isa}, out`);
        const g = gate.slice();
        nativeKernels.siluMul(g, up, g);
        assertClose(g, expected, `${isa}, in place`);
      });
    });
  }

  it('rejects arrays of different lengths', () => {
    assert.throws(() => nativeKernels.siluMul(new Float32Array(4), new Float32Array(5), new Float32Array(4)), RangeError);
  });
});

describe('add', () => {
  for (const n of [1, 15, 896, 100003]) {
    it(`adds exactly like the reference on ${n} elements`, () => {
      const rng = mulberry32(n + 1);
      const dst = randomArray(rng, n, 10), src = randomArray(rng, n, 10);
      const expected = dst.slice();
      referenceKernels.add(expected, src);
      forEachIsa((isa) => {
        const out = dst.slice();
        nativeKernels.add(out, src);
        assert.deepEqual(out, expected, isa);
      });
    });
  }

  it('rejects arrays of different lengths', () => {
    assert.throws(() => nativeKernels.add(new Float32Array(4), new Float32Array(3)), RangeError);
  });
});
