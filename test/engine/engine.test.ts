// The engine with the real stories260K model: batching, preemption and
// conversation state must never change what greedy decoding produces.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { CacheMode } from '../../src/cache/kv-cache-manager.js';
import { Engine, type EngineEvent } from '../../src/engine/engine.js';
import { GREEDY } from '../../src/engine/sampler.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { loadModel, type LoadedModel } from '../../src/model/load.js';
import { MODELS } from '../helpers/paths.js';

let model: LoadedModel;
before(async () => {
  model = await loadModel(path.join(MODELS, 'stories260K', 'stories260K.gguf'));
});

const PROMPTS = [
  'Once upon a time', 'The cat sat', 'Lily and Ben went to the park', 'One day, a little bird', 'Tom had a red ball',
  'The sun was hot', 'A big dog', 'Mom said', 'There was a boy named Tim', 'The tree was tall', 'She liked to sing',
  'In the forest', 'The fish swam', 'He wanted a toy', 'It was a rainy day', 'The little car',
];

function engine(mode: CacheMode, blocks: number, maxNumSeqs = 16, maxNumBatchedTokens = 256): Engine {
  return new Engine(model, { kvCacheMemory: blocks * KvCache.bytesPerBlock(model.config), maxNumSeqs, maxNumBatchedTokens, cacheMode: mode });
}

/** Runs until every request finished; returns the output tokens and finish events by request id. */
function drain(e: Engine): Map<string, Extract<EngineEvent, { type: 'finish' }>> {
  const done = new Map<string, Extract<EngineEvent, { type: 'finish' }>>();
  for (let guard = 0; e.hasWork() && guard < 100000; guard++) {
    for (const ev of e.step()) {
      assert.notEqual(ev.type, 'error', ev.type === 'error' ? ev.message : '');
      if (ev.type === 'finish') done.set(ev.requestId, ev);
    }
  }
  assert.equal(e.hasWork(), false);
  return done;
}

function runAlone(prompt: number[], maxTokens: number): number[] {
  const e = engine('stateless', 64);
  e.add({ id: 'solo', promptTokens: prompt, conversationId: null, sampling: GREEDY, maxTokens });
  return drain(e).get('solo')!.outputTokens;
}

test('16 requests interleaved, with preemption from a small cache, equal each request run alone', () => {
  const prompts = PROMPTS.map((p) => model.tokenizer.encode(p));
  const alone = prompts.map((p) => runAlone(p, 40));
  for (const [mode, blocks] of [['stateless', 40], ['prefix', 24], ['pensieve', 24]] as const) {
    const e = engine(mode, blocks, 16, 64);
    prompts.forEach((p, i) => e.add({ id: `r${i}`, promptTokens: p, conversationId: mode === 'pensieve' ? `c${i}` : null, sampling: GREEDY, maxTokens: 40 }));
    const done = drain(e);
    prompts.forEach((_, i) => assert.deepEqual(done.get(`r${i}`)!.outputTokens, alone[i], `${mode}: request ${i}`));
    if (blocks < 40) assert.ok(e.stats().cache.preemptions > 0, `${mode}: the small cache forced preemption`);
    // Every prompt row computed beyond the uncached prompt is a recomputation (after preemption).
    let recomputed = 0;
    for (const [id, { usage: u }] of done) {
      assert.equal(u.computedPromptTokens, u.promptTokens - u.cachedTokens + u.recomputedTokens, `${mode}: ${id} accounting`);
      recomputed += u.recomputedTokens;
    }
    if (blocks < 40) assert.ok(recomputed > 0, `${mode}: preempted requests report what they recomputed`);
    assert.equal(e.stats().cache.recomputedTokens, recomputed, `${mode}: the engine counter agrees with the usages`);
  }
});

test('a conversation computes only its new tokens on later turns, and outputs match a stateless run', () => {
  const turns = [' Tom saw a dog.', ' The dog was big.', ' Tom ran home.', ' Mom smiled.'];
  const stateful = engine('pensieve', 64);
  const stateless = engine('stateless', 64);
  let history: number[] = [];
  turns.forEach((text, t) => {
    const prompt = [...history, ...model.tokenizer.encode(text, { addBos: t === 0 })];
    const before = stateful.stats().promptTokensComputed;
    stateful.add({ id: `s${t}`, promptTokens: prompt, conversationId: 'conv', sampling: GREEDY, maxTokens: 12 });
    stateless.add({ id: `x${t}`, promptTokens: prompt, conversationId: null, sampling: GREEDY, maxTokens: 12 });
    const a = drain(stateful).get(`s${t}`)!;
    const b = drain(stateless).get(`x${t}`)!;
    assert.deepEqual(a.outputTokens, b.outputTokens, `turn ${t}`);
    if (t > 0) {
      // Everything but the last sampled token of the previous turn (never fed back) is cached.
      assert.equal(a.usage.cachedTokens, history.length - 1, `turn ${t} cached`);
      assert.equal(stateful.stats().promptTokensComputed - before, prompt.length - history.length + 1, `turn ${t} computed`);
    }
    assert.equal(b.usage.cachedTokens, 0);
    history = [...prompt, ...a.outputTokens];
  });
});

test('stateless clients resending a history reuse its full blocks through the prefix cache', () => {
  const e = engine('prefix', 64);
  const prompt = model.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside in the park.');
  e.add({ id: 'a', promptTokens: prompt, conversationId: null, sampling: GREEDY, maxTokens: 4 });
  const first = drain(e).get('a')!;
  e.add({ id: 'b', promptTokens: [...prompt, ...first.outputTokens], conversationId: null, sampling: GREEDY, maxTokens: 4 });
  const second = drain(e).get('b')!;
  assert.equal(first.usage.cachedTokens, 0);
  assert.equal(second.usage.cachedTokens, Math.floor((prompt.length + 3) / 16) * 16);
});

test('aborting a request frees its blocks and reports it', () => {
  const e = engine('prefix', 64);
  e.add({ id: 'a', promptTokens: model.tokenizer.encode('Once upon a time'), conversationId: null, sampling: GREEDY, maxTokens: 100 });
  e.step();
  e.step();
  const [ev] = e.abort('a');
  assert.equal(ev?.type, 'finish');
  assert.equal(ev?.type === 'finish' && ev.reason, 'abort');
  assert.equal(e.hasWork(), false);
  assert.equal(e.stats().cache.runningRequests, 0);
});

test('a prompt longer than the context window is refused', () => {
  const e = engine('prefix', 64);
  assert.throws(() => e.add({ id: 'x', promptTokens: new Array(3000).fill(5), conversationId: null, sampling: GREEDY, maxTokens: 1 }), /context window/);
});
