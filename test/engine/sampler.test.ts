import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GREEDY, Rng, Sampler, argmax, type SamplingParams } from '../../src/engine/sampler.js';
import { mulberry32 } from '../helpers/random.js';

const logits = Float32Array.from([1.0, 3.0, 2.0, 0.5, 2.9]);
const params = (p: Partial<SamplingParams>): SamplingParams => ({ ...GREEDY, temperature: 1, ...p });

function frequencies(p: SamplingParams, draws: number, input = logits): number[] {
  const s = new Sampler(p);
  const counts = new Array<number>(input.length).fill(0);
  for (let i = 0; i < draws; i++) counts[s.sample(input)]!++;
  return counts.map((c) => c / draws);
}

test('temperature 0 picks the argmax, the first one on ties', () => {
  assert.equal(new Sampler(GREEDY).sample(logits), 1);
  assert.equal(argmax(Float32Array.from([0, 5, 5])), 1);
});

test('a seed makes sampling repeatable, and different seeds differ', () => {
  const run = (seed: number) => Array.from({ length: 50 }, ((s) => () => s.sample(logits))(new Sampler(params({ seed }))));
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
});

test('samples follow softmax(logits / temperature)', () => {
  const t = 0.7;
  const z = Array.from(logits, (l) => Math.exp(l / t));
  const sum = z.reduce((a, b) => a + b, 0);
  const f = frequencies(params({ temperature: t, seed: 1 }), 40000);
  z.forEach((w, i) => assert.ok(Math.abs(f[i]! - w / sum) < 0.01, `token ${i}: ${f[i]} vs ${w / sum}`));
});

test('top-k keeps only the k most likely tokens', () => {
  const f = frequencies(params({ topK: 2, seed: 2 }), 5000);
  assert.equal(f[0], 0);
  assert.equal(f[2], 0);
  assert.ok(f[1]! > 0 && f[4]! > 0);
  assert.equal(frequencies(params({ topK: 1, seed: 3 }), 200)[1], 1);
});

test('top-p keeps the smallest set reaching p', () => {
  // probabilities at T=1: ~[0.05, 0.37, 0.14, 0.03, 0.34]; p=0.5 keeps tokens 1 and 4.
  const f = frequencies(params({ topP: 0.5, seed: 4 }), 5000);
  assert.deepEqual(f.map((x) => x > 0), [false, true, false, false, true]);
});

test('min-p drops tokens below min_p times the best probability', () => {
  // p2/p1 = e^-1 ≈ 0.37: min_p 0.3 keeps {1, 4, 2}; 0.5 keeps {1, 4}.
  assert.deepEqual(frequencies(params({ minP: 0.3, seed: 5 }), 5000).map((x) => x > 0), [false, true, true, false, true]);
  assert.deepEqual(frequencies(params({ minP: 0.5, seed: 5 }), 5000).map((x) => x > 0), [false, true, false, false, true]);
});

test('presence and frequency penalties lower already generated tokens', () => {
  const presence = new Sampler({ ...GREEDY, presencePenalty: 0.2 });
  assert.equal(presence.sample(logits), 1);
  presence.accept(1);
  assert.equal(presence.sample(logits), 4, 'token 1 drops to 2.8, below token 4 (2.9)');

  const frequency = new Sampler({ ...GREEDY, frequencyPenalty: 0.06 });
  frequency.accept(1);
  assert.equal(frequency.sample(logits), 1, 'one occurrence: 2.94 still wins');
  frequency.accept(1);
  assert.equal(frequency.sample(logits), 4, 'two occurrences: 2.88 loses to 2.9');
});

test('the rng is uniform in [0, 1)', () => {
  const rng = new Rng(42);
  let sum = 0;
  for (let i = 0; i < 100000; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / 100000 - 0.5) < 0.01);
});

/** n seeded logits taking only `levels` distinct values (steps of 1/scale): many ties. */
function tiedLogits(n: number, levels: number, scale: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => Math.floor(rand() * levels) / scale);
}

/** Token ids best first: logit descending, then id ascending. */
const bestFirst = (x: Float32Array) => Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || a - b);

test('top-k over a large vocabulary with ties keeps exactly the k best, ties to the lower id', () => {
  const V = 20000;
  const big = tiedLogits(V, 40, 8, 12345);  // 40 distinct values: thousands of ties
  const order = bestFirst(big);
  for (const k of [1, 7, 300]) {
    const want = new Set(order.slice(0, k));
    const sampler = new Sampler(params({ topK: k, temperature: 100, seed: k }));
    const seen = new Set<number>();
    for (let i = 0; i < Math.min(20 * k, 400); i++) {
      const tok = sampler.sample(big);
      assert.ok(want.has(tok), `k=${k}: token ${tok} is not among the ${k} best`);
      seen.add(tok);
    }
    assert.ok(seen.size >= Math.min(k, 5), `k=${k}: only ${seen.size} distinct tokens drawn`);
  }
});

test('the argmax a caller passes (the engine passes its kernels\') is the one used', () => {
  let calls = 0;
  const pick = (row: Float32Array) => (calls++, argmax(row));
  assert.equal(new Sampler(GREEDY).sample(logits, pick), 1);
  new Sampler(params({ seed: 9 })).sample(logits, pick);
  assert.equal(calls, 2);
});

test('top-p over a large vocabulary with ties keeps the smallest best set reaching p (ties to the lower id)', () => {
  const V = 3000;
  const big = tiedLogits(V, 24, 4, 777);  // 24 distinct values, ~125 tokens each
  const t = 2;
  const order = bestFirst(big);
  const w = order.map((i) => Math.exp((big[i]! - big[order[0]!]!) / t));
  const total = w.reduce((a, b) => a + b, 0);
  for (const topP of [0.3, 0.75]) {
    let cum = 0, keep = 0;
    while (cum < topP * total) cum += w[keep++]!;
    const want = new Set(order.slice(0, keep));
    const sampler = new Sampler(params({ temperature: t, topP, seed: 11 }));
    const seen = new Set<number>();
    for (let i = 0; i < 20000; i++) {
      const tok = sampler.sample(big);
      assert.ok(want.has(tok), `top_p ${topP}: token ${tok} (logit ${big[tok]}) is outside the ${keep} best`);
      seen.add(tok);
    }
    assert.ok(seen.size >= 0.9 * keep, `top_p ${topP}: drew ${seen.size} of ${keep} tokens`);
  }
});

test('logit_bias is added before sampling, greedy included, and -100 bans a token', () => {
  // Greedy: +100 on the worst token makes it the argmax; -100 on the best hands the win to the next.
  assert.equal(new Sampler({ ...GREEDY, logitBias: [[3, 100]] }).sample(logits), 3);
  assert.equal(new Sampler({ ...GREEDY, logitBias: [[1, -100]] }).sample(logits), 4);
  // The native argmax path gets the biased row as well.
  const seen: Float32Array[] = [];
  new Sampler({ ...GREEDY, logitBias: [[0, 5]] }).sample(logits, (row) => (seen.push(row), argmax(row)));
  assert.equal(seen[0]![0], 6);
  // Sampling: a -100 bias leaves the token out; +100 on one token makes it the only draw.
  assert.equal(frequencies(params({ seed: 9, logitBias: [[1, -100]] }), 3000)[1], 0);
  assert.equal(frequencies(params({ seed: 9, logitBias: [[0, 100]] }), 300)[0], 1);
  // Ids past the row (a vocabulary padded differently) are ignored, not written out of bounds.
  assert.equal(new Sampler({ ...GREEDY, logitBias: [[99, 100]] }).sample(logits), 1);
  assert.deepEqual(Array.from(logits), [1.0, 3.0, 2.0, 0.5, 2.9].map(Math.fround), 'the input row is left alone');
});

test('repetition_penalty divides positive and multiplies negative logits of prompt and output tokens', () => {
  const row = Float32Array.from([1.0, 3.0, 2.0, -0.5, 2.9]);
  // Token 1 came in the prompt: 3.0 / 1.1 = 2.73 < 2.9, so token 4 wins.
  assert.equal(new Sampler({ ...GREEDY, repetitionPenalty: 1.1 }, [1]).sample(row), 4);
  assert.equal(new Sampler({ ...GREEDY, repetitionPenalty: 1.1 }, [2]).sample(row), 1, 'other tokens are untouched');
  // Generated tokens count too, and a negative logit moves further down (times the penalty).
  const s = new Sampler({ ...GREEDY, repetitionPenalty: 2 }, []);
  s.accept(1);
  s.accept(4);
  s.accept(3);
  const rows: Float32Array[] = [];
  assert.equal(s.sample(row, (r) => (rows.push(r), argmax(r))), 2, '3.0/2 and 2.9/2 fall below 2.0');
  assert.ok(Math.abs(rows[0]![3]! - -1.0) < 1e-6);
  // A penalty of 1 changes nothing.
  assert.equal(new Sampler({ ...GREEDY, repetitionPenalty: 1 }, [1]).sample(row), 1);
});
