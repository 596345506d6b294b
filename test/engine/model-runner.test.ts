// One forward step over a ragged batch must not care how the work was cut:
// one prefill, token-by-token decode, shuffled chunks over non-contiguous
// blocks, a recomputed prefix beside a new prompt, or several sequences
// batched together all give the same logits.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { ModelRunner, type SequenceStep } from '../../src/engine/model-runner.js';
import { argmax } from '../../src/engine/sampler.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { loadModel, type LoadedModel } from '../../src/model/load.js';
import { MODELS } from '../helpers/paths.js';

let model: LoadedModel;
let tokens: number[];
const BLOCK = 16;
const NUM_BLOCKS = 64;

before(async () => {
  model = await loadModel(path.join(MODELS, 'stories260K', 'stories260K.gguf'));
  tokens = model.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.');
  while (tokens.length < 150) tokens = tokens.concat(tokens.slice(1));
  tokens = tokens.slice(0, 150);
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function shuffledBlocks(seed: number): number[] {
  const r = rng(seed);
  const ids = Array.from({ length: NUM_BLOCKS }, (_, i) => i);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function runner(): ModelRunner {
  const kv = new KvCache(model.config, NUM_BLOCKS, BLOCK);
  for (const layer of kv.layers) {
    layer.k.fill(Number.NaN); // any read of a slot that was never written poisons the result
    layer.v.fill(Number.NaN);
  }
  return new ModelRunner(model.transformer, kv);
}

function prefillAll(table: number[]): Float32Array {
  const [logits] = runner().step([{ tokens: tokens, positions: range(0, tokens.length), blockTable: table, contextLen: tokens.length, logits: 'all' }]);
  return logits!;
}

function assertRowsClose(actual: Float32Array, expected: Float32Array, what: string, tolerance = 1e-4): void {
  const V = model.config.vocabSize;
  assert.equal(actual.length, expected.length, `${what}: row count`);
  for (let r = 0; r < actual.length / V; r++) {
    const a = actual.subarray(r * V, (r + 1) * V), e = expected.subarray(r * V, (r + 1) * V);
    let maxDiff = 0;
    for (let i = 0; i < V; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - e[i]!));
    assert.ok(maxDiff < tolerance, `${what}: row ${r} differs by ${maxDiff}`);
    assert.equal(argmax(a), argmax(e), `${what}: row ${r} greedy token`);
  }
}

test('token-by-token decode gives the logits of one prefill', () => {
  const table = range(0, NUM_BLOCKS);
  const expected = prefillAll(table);
  const r = runner();
  const rows = tokens.map((tok, p) => r.step([{ tokens: [tok], positions: [p], blockTable: table, contextLen: p + 1, logits: 'last' }])[0]!.slice());
  const actual = new Float32Array(expected.length);
  rows.forEach((row, p) => actual.set(row, p * model.config.vocabSize));
  assertRowsClose(actual, expected, 'decode');
});

test('prefill split into uneven chunks over shuffled non-contiguous blocks gives the same logits', () => {
  const expected = prefillAll(range(0, NUM_BLOCKS));
  const table = shuffledBlocks(7);
  const r = runner();
  const cuts = [0, 7, 20, 21, 53, 90, 141, tokens.length];
  const actual = new Float32Array(expected.length);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i]!, cuts[i + 1]!];
    const [logits] = r.step([{ tokens: tokens.slice(from, to), positions: range(from, to), blockTable: table, contextLen: to, logits: 'all' }]);
    actual.set(logits!, from * model.config.vocabSize);
  }
  assertRowsClose(actual, expected, 'chunked');
});

test('a dropped prefix recomputed in the same pass as a new prompt (non-contiguous positions) gives the same logits', () => {
  const expected = prefillAll(range(0, NUM_BLOCKS));
  const table = shuffledBlocks(11);
  const r = runner();
  // Turn 1 computes [0, 100); then the leading 64 tokens (two 32-token chunks) are
  // dropped: their blocks are overwritten with garbage and replaced by fresh ones.
  r.step([{ tokens: tokens.slice(0, 100), positions: range(0, 100), blockTable: table, contextLen: 100, logits: 'none' }]);
  for (const layer of r.kv.layers) {
    for (const b of table.slice(0, 4)) {
      layer.k.fill(Number.NaN, b * r.kv.blockFloats, (b + 1) * r.kv.blockFloats);
      layer.v.fill(Number.NaN, b * r.kv.blockFloats, (b + 1) * r.kv.blockFloats);
    }
  }
  const fresh = [...table.slice(-4), ...table.slice(4, -4)];
  const positions = [...range(0, 64), ...range(100, tokens.length)];
  const [logits] = r.step([{ tokens: positions.map((p) => tokens[p]!), positions, blockTable: fresh, contextLen: tokens.length, logits: 'all' }]);
  const V = model.config.vocabSize;
  const want = new Float32Array(positions.length * V);
  positions.forEach((p, i) => want.set(expected.subarray(p * V, (p + 1) * V), i * V));
  assertRowsClose(logits!, want, 'recompute + new prompt');
});

test('sequences batched together (prefill beside decodes) give the logits they give alone', () => {
  const V = model.config.vocabSize;
  const expected = prefillAll(range(0, NUM_BLOCKS));
  const table = shuffledBlocks(3);
  const [a, b, c] = [table.slice(0, 20), table.slice(20, 40), table.slice(40, 60)];
  const r = runner();
  // b and c hold 40 and 90 tokens of history already; a starts from nothing.
  r.step([
    { tokens: tokens.slice(0, 40), positions: range(0, 40), blockTable: b, contextLen: 40, logits: 'none' },
    { tokens: tokens.slice(0, 90), positions: range(0, 90), blockTable: c, contextLen: 90, logits: 'none' },
  ]);
  const steps: SequenceStep[] = [
    { tokens: tokens.slice(0, 30), positions: range(0, 30), blockTable: a, contextLen: 30, logits: 'last' },
    { tokens: [tokens[40]!], positions: [40], blockTable: b, contextLen: 41, logits: 'last' },
    { tokens: tokens.slice(90, 120), positions: range(90, 120), blockTable: c, contextLen: 120, logits: 'all' },
  ];
  const [la, lb, lc] = r.step(steps);
  assertRowsClose(la!, expected.subarray(29 * V, 30 * V), 'prefill in batch');
  assertRowsClose(lb!, expected.subarray(40 * V, 41 * V), 'decode in batch');
  assertRowsClose(lc!, expected.subarray(90 * V, 120 * V), 'chunk in batch');
});

test('a position outside the block table is refused before any kernel runs', () => {
  assert.throws(
    () => runner().step([{ tokens: [1, 2], positions: [0, 40], blockTable: [0, 1], contextLen: 41, logits: 'last' }]),
    /position 40 outside/,
  );
});

test('bf16 KV: token-by-token decode and shuffled chunks give the logits of one prefill, and stay near f32 KV', () => {
  // Every path reads rounded K/V (writeKV rounds before attention reads); a K/V value that two
  // paths compute a few f32 ulps apart can round to neighbouring bf16 values, so they agree to
  // ~1e-3 rather than 1e-4. Against f32 KV the rounding (8 mantissa bits) moves logits a little.
  const bf16Runner = () => {
    const kv = new KvCache(model.config, NUM_BLOCKS, BLOCK, 'bf16');
    for (const layer of kv.layers) {
      layer.k.fill(0x7fc0); // bf16 NaN: a read of a never-written slot poisons the result
      layer.v.fill(0x7fc0);
    }
    return new ModelRunner(model.transformer, kv);
  };
  const table = range(0, NUM_BLOCKS);
  const whole = bf16Runner().step([{ tokens, positions: range(0, tokens.length), blockTable: table, contextLen: tokens.length, logits: 'all' }])[0]!.slice();
  const r = bf16Runner();
  const V = model.config.vocabSize;
  const decoded = new Float32Array(whole.length);
  tokens.forEach((tok, p) => decoded.set(r.step([{ tokens: [tok], positions: [p], blockTable: table, contextLen: p + 1, logits: 'last' }])[0]!, p * V));
  assertRowsClose(decoded, whole, 'bf16 decode', 2e-3);
  const shuffled = shuffledBlocks(5), r2 = bf16Runner(), chunked = new Float32Array(whole.length);
  const cuts = [0, 9, 40, 41, 100, tokens.length];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i]!, cuts[i + 1]!];
    chunked.set(r2.step([{ tokens: tokens.slice(from, to), positions: range(from, to), blockTable: shuffled, contextLen: to, logits: 'all' }])[0]!, from * V);
  }
  assertRowsClose(chunked, whole, 'bf16 chunked', 2e-3);

  const f32 = prefillAll(table);
  let maxDiff = 0, agree = 0;
  for (let row = 0; row < tokens.length; row++) {
    const a = whole.subarray(row * V, (row + 1) * V), e = f32.subarray(row * V, (row + 1) * V);
    for (let i = 0; i < V; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - e[i]!));
    if (argmax(a) === argmax(e)) agree++;
  }
  assert.ok(maxDiff > 0 && maxDiff < 0.5, `bf16 vs f32 KV logits differ by ${maxDiff}`);  // measured 0.18
  assert.ok(agree >= 0.95 * tokens.length, `greedy tokens agree on ${agree} of ${tokens.length} rows`);
});
