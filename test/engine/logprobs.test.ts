// logprobs.ts against plain references: the log-sum-exp of a row and its top ids by a full sort.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logSumExp, topIds } from '../../src/engine/logprobs.js';
import { mulberry32 } from '../helpers/random.js';

test('logSumExp equals log Σ exp computed naively, also for large logits', () => {
  const rng = mulberry32(7);
  for (const scale of [1, 30, 300]) {
    const row = Float32Array.from({ length: 1000 }, () => (rng() - 0.5) * scale);
    const max = Math.max(...row);
    const naive = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    assert.ok(Math.abs(logSumExp(row) - naive) < 1e-9);
    let total = 0;
    for (const v of row) total += Math.exp(v - logSumExp(row));
    assert.ok(Math.abs(total - 1) < 1e-9, 'the log probabilities are normalized');
  }
  assert.equal(logSumExp(Float32Array.from([-Infinity, -Infinity])), -Infinity);
});

test('topIds gives the k largest, largest first, ties to the lower id', () => {
  const rng = mulberry32(3);
  for (const k of [0, 1, 5, 20]) {
    // Few distinct values, so ties are common.
    const row = Float32Array.from({ length: 500 }, () => Math.floor(rng() * 40));
    const sorted = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
    assert.deepEqual(topIds(row, k), sorted.slice(0, k));
  }
  assert.deepEqual(topIds(Float32Array.from([1, 2]), 5), [1, 0]);
});
