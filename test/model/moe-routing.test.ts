// Mixture-of-experts routing and the routed FFN against plain references: top-k by a full sort
// (ties to the lower expert), softmax over every expert, optional renormalisation; grouping by
// expert against a scan; and the batched-by-expert FFN against computing each token's chosen
// experts one by one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import type { Kernels } from '../../src/kernels/types.js';
import { feedForward } from '../../src/model/feed-forward.js';
import { groupByExpert, routeTokens } from '../../src/model/moe-routing.js';
import { Scratch } from '../../src/model/scratch.js';
import type { MoeFfn } from '../../src/model/weights.js';
import { mulberry32 } from '../helpers/random.js';

/** The reference: sort every expert by (logit desc, index asc), softmax over all in f64. */
function plainRoute(row: number[], k: number, normalize: boolean): { experts: number[]; weights: number[] } {
  const order = row.map((v, e) => [v, e] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(([, e]) => e);
  const max = Math.max(...row);
  const all = row.reduce((s, v) => s + Math.exp(v - max), 0);
  const picked = order.reduce((s, e) => s + Math.exp(row[e]! - max), 0);
  return { experts: order, weights: order.map((e) => Math.exp(row[e]! - max) / (normalize ? picked : all)) };
}

function randomLogits(seed: number, tokens: number, experts: number, ties: boolean): Float32Array {
  const rnd = mulberry32(seed);
  // Ties: logits from a handful of values, so most rows hold equal ones at the top-k boundary.
  return Float32Array.from({ length: tokens * experts }, () => (ties ? Math.floor(rnd() * 4) - 2 : 6 * rnd() - 3));
}

describe('routeTokens', () => {
  for (const [E, k] of [[8, 2], [16, 8], [5, 5], [128, 8], [4, 1]] as const) {
    for (const normalize of [true, false]) {
      for (const ties of [false, true]) {
        test(`${E} experts, top ${k}, ${normalize ? 'renormalised' : 'softmax weights'}, ${ties ? 'many ties' : 'distinct logits'}: as the plain reference`, () => {
          const T = 37;
          const logits = randomLogits(E * 100 + k + (ties ? 1 : 0), T, E, ties);
          const r = routeTokens(logits, T, E, k, normalize);
          assert.deepEqual([r.tokens, r.topK, r.experts.length, r.weights.length], [T, k, T * k, T * k]);
          for (let t = 0; t < T; t++) {
            const want = plainRoute([...logits.subarray(t * E, (t + 1) * E)], k, normalize);
            assert.deepEqual([...r.experts.subarray(t * k, (t + 1) * k)], want.experts, `token ${t}`);
            want.weights.forEach((w, i) => assert.ok(Math.abs(r.weights[t * k + i]! - w) <= 1e-7 * Math.max(1, w), `token ${t} weight ${i}`));
            const sum = want.weights.reduce((a, b) => a + b, 0);
            if (normalize) assert.ok(Math.abs(sum - 1) < 1e-12);
            else assert.ok(sum <= 1 + 1e-12);
          }
        });
      }
    }
  }

  test('ties go to the lower expert index; weights of tied experts are equal', () => {
    const r = routeTokens(Float32Array.from([1, 3, 3, 0, 3, 2]), 1, 6, 2, true);
    assert.deepEqual([...r.experts], [1, 2]);
    assert.deepEqual([...r.weights], [0.5, 0.5]);
    const all = routeTokens(new Float32Array(4), 1, 4, 3, false);
    assert.deepEqual([...all.experts], [0, 1, 2]);
    assert.deepEqual([...all.weights], [0.25, 0.25, 0.25]);
  });

  test('top-k outside 1..experts and short logits are refused', () => {
    assert.throws(() => routeTokens(new Float32Array(8), 2, 4, 0, true), /top-k 0 is outside 1..4/);
    assert.throws(() => routeTokens(new Float32Array(8), 2, 4, 5, true), /top-k 5 is outside 1..4/);
    assert.throws(() => routeTokens(new Float32Array(7), 2, 4, 2, true), /need 2×4/);
  });
});

describe('groupByExpert', () => {
  test('each expert gets exactly the rows that chose it, ascending, with their weights', () => {
    const E = 16, k = 4, T = 53;
    const r = routeTokens(randomLogits(7, T, E, true), T, E, k, true);
    const g = groupByExpert(r, E);
    assert.equal(g.indptr[0], 0);
    assert.equal(g.indptr[E], T * k);
    for (let e = 0; e < E; e++) {
      const want: [number, number][] = [];
      for (let t = 0; t < T; t++) for (let i = 0; i < k; i++) if (r.experts[t * k + i] === e) want.push([t, r.weights[t * k + i]!]);
      const got: [number, number][] = [];
      for (let j = g.indptr[e]!; j < g.indptr[e + 1]!; j++) got.push([g.rows[j]!, g.weights[j]!]);
      assert.deepEqual(got, want, `expert ${e}`);
    }
  });

  test('unused experts get empty ranges; an out-of-range expert is refused', () => {
    const g = groupByExpert({ tokens: 2, topK: 1, experts: Int32Array.from([3, 3]), weights: Float32Array.from([1, 1]) }, 5);
    assert.deepEqual([...g.indptr], [0, 0, 0, 0, 2, 2]);
    assert.deepEqual([...g.rows], [0, 1]);
    assert.throws(() => groupByExpert({ tokens: 1, topK: 1, experts: Int32Array.from([5]), weights: Float32Array.from([1]) }, 5), /expert 5 is outside 0..4/);
  });
});

describe('feedForward over routed experts', () => {
  const d = 64, ff = 32, E = 8, k = 3;
  const rnd = mulberry32(99);
  const values = (n: number, std: number) => Float32Array.from({ length: n }, () => std * (2 * rnd() - 1));
  const router = values(E * d, 1);
  const experts = Array.from({ length: E }, () => ({ gate: values(ff * d, 0.2), up: values(ff * d, 0.2), down: values(d * ff, 0.2) }));

  function pack(kernels: Kernels, normalize: boolean): MoeFfn {
    const m = (w: Float32Array, rows: number, cols: number) => kernels.packMatrix({ dtype: 'f32', rows, cols, data: new Uint8Array(w.buffer) }, 'f32');
    return {
      kind: 'moe',
      router: m(router, E, d),
      experts: experts.map((x) => ({
        gateUp: { parts: [{ w: m(Float32Array.from([...x.gate, ...x.up]), 2 * ff, d), outputs: 2 }] },
        down: m(x.down, d, ff),
      })),
      numExpertsPerTok: k,
      normTopkProb: normalize,
    };
  }

  /** Token by token in f64: each chosen expert's SwiGLU, weighted and summed. */
  function plain(x: Float32Array, T: number, normalize: boolean): Float64Array {
    const out = new Float64Array(T * d);
    const dot = (w: Float32Array, row: number, v: ArrayLike<number>, n: number) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += w[row * n + j]! * v[j]!;
      return s;
    };
    for (let t = 0; t < T; t++) {
      const xt = x.subarray(t * d, (t + 1) * d);
      const logits = Array.from({ length: E }, (_, e) => dot(router, e, xt, d));
      const { experts: chosen, weights } = plainRoute(logits, k, normalize);
      chosen.forEach((e, i) => {
        const h = Array.from({ length: ff }, (_, r) => {
          const g = dot(experts[e]!.gate, r, xt, d);
          return (g / (1 + Math.exp(-g))) * dot(experts[e]!.up, r, xt, d);
        });
        for (let c = 0; c < d; c++) out[t * d + c]! += weights[i]! * dot(experts[e]!.down, c, h, ff);
      });
    }
    return out;
  }

  for (const [name, kernels] of [['reference', referenceKernels], ['native', nativeKernels]] as const) {
    for (const T of [1, 2, 7, 40]) {
      test(`${name} kernels, ${T} rows: batched by expert equals token by token`, () => {
        for (const normalize of [true, false]) {
          const x = values(T * d, 1);
          const out = new Float32Array(T * d).fill(NaN);
          feedForward(kernels, pack(kernels, normalize), x, T, out, new Scratch());
          const want = plain(x, T, normalize);
          let diff = 0, scale = 0;
          for (let i = 0; i < out.length; i++) {
            diff = Math.max(diff, Math.abs(out[i]! - want[i]!));
            scale = Math.max(scale, Math.abs(want[i]!));
          }
          assert.ok(scale > 0.01 && diff <= 1e-5 * scale, `diff ${diff} of ${scale}`);
        }
      });
    }
  }
});
