// The KV dtype: what 'auto' picks, what a bf16 cache holds, and that chunk files of one dtype
// are never read into a cache of the other.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { Engine, resolveKvDType } from '../../src/engine/engine.js';
import { GREEDY } from '../../src/engine/sampler.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { loadModel, type LoadedModel } from '../../src/model/load.js';
import { MODELS } from '../helpers/paths.js';
import { drain, tempDir, tieredEngine } from './tiers/helpers.js';

const STORIES = path.join(MODELS, 'stories260K', 'stories260K.gguf');
let f32Model: LoadedModel;
before(async () => {
  f32Model = await loadModel(STORIES);
});

test("'auto' keeps f32 KV for f32 weights and bf16 KV for bf16 or q8_0 weights; an explicit dtype wins", async () => {
  assert.equal(resolveKvDType('auto', f32Model), 'f32');
  for (const weightFormat of ['bf16', 'q8_0'] as const) {
    const m = await loadModel(STORIES, { weightFormat });
    assert.equal(resolveKvDType('auto', m), 'bf16', weightFormat);
    assert.equal(resolveKvDType('f32', m), 'f32');
  }
  assert.equal(resolveKvDType('bf16', f32Model), 'bf16');
});

test('a bf16 cache holds twice the blocks of an f32 cache in the same memory, in Uint16Array pools', () => {
  const bytes = 64 * KvCache.bytesPerBlock(f32Model.config);
  const f32 = new Engine(f32Model, { kvCacheMemory: bytes, maxNumSeqs: 4, maxNumBatchedTokens: 64, cacheMode: 'prefix', kvDType: 'f32' });
  const bf16 = new Engine(f32Model, { kvCacheMemory: bytes, maxNumSeqs: 4, maxNumBatchedTokens: 64, cacheMode: 'prefix', kvDType: 'bf16' });
  assert.equal(f32.numBlocks, 64);
  assert.equal(bf16.numBlocks, 128);
  assert.equal(bf16.kvDType, 'bf16');
  const cache = new KvCache(f32Model.config, 4, 16, 'bf16');
  assert.ok(cache.layers[0]!.k instanceof Uint16Array);
  assert.equal(cache.gatheredBytes(2), 2 * KvCache.bytesPerBlock(f32Model.config, 16, 'bf16'));
  assert.throws(() => cache.gatherBlocks([0], new Float32Array(cache.gatheredFloats(1))), /Float32Array for a bf16 KV cache/);
});

test('chunk files written with f32 KV are discarded, not read, by an engine with bf16 KV', async () => {
  const dir = tempDir('pensieve-kvdtype-');
  const tiers = { deviceBlocks: 24, hostChunks: 0, diskChunks: 16, diskDir: dir };
  const first = tieredEngine(f32Model, tiers, { swapOutThreshold: 1, kvDType: 'f32' });
  first.add({ id: 'a1', promptTokens: Array.from({ length: 100 }, (_, i) => 10 + ((i * 37) % 400)), conversationId: 'a', sampling: GREEDY, maxTokens: 4 });
  await drain(first);
  for (let i = 0; i < 10; i++) first.step();
  await first.close();
  const files = () => fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.kv'));
  assert.ok(files().length >= 3, `f32 chunks were written (${files().length})`);

  const second = tieredEngine(f32Model, tiers, { kvDType: 'bf16' });
  assert.equal(second.stats().cache.tiers.persistedChunks, 0);
  assert.deepEqual(files(), []);
  await second.close();
});
