import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { interpolate, profileChunkCost } from '../../src/engine/cost-profile.js';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { KvCache } from '../../src/model/kv-cache.js';
import type { LoadedModel } from '../../src/model/load.js';
import { loadStories } from './tiers/helpers.js';

let model: LoadedModel;
before(async () => {
  model = await loadStories();
});

test('Cost(l) is linear between profiled points and extrapolated with the last slope', () => {
  const cost = interpolate([{ contextLength: 0, ms: 10 }, { contextLength: 256, ms: 12 }, { contextLength: 1024, ms: 20 }]);
  assert.equal(cost(0), 10);
  assert.equal(cost(128), 11);
  assert.equal(cost(640), 16);
  assert.equal(cost(1024 + 768), 28);
  assert.equal(interpolate([{ contextLength: 0, ms: 5 }])(4096), 5);
});

test('profiling the real model is quick, covers contexts by powers of two, and never decreases', () => {
  const runner = new ModelRunner(model.transformer, new KvCache(model.config, 16));
  const p = profileChunkCost(runner, { maxContext: model.config.maxPositionEmbeddings - 1, budgetMs: 1000 });
  assert.ok(p.elapsedMs < 1000, `${p.elapsedMs} ms`);
  assert.deepEqual(p.points.map((x) => x.contextLength), [0, 256, 1024]);
  for (let i = 1; i < p.points.length; i++) assert.ok(p.points[i]!.ms >= p.points[i - 1]!.ms);
  assert.ok(p.points.every((x) => x.ms > 0));
  assert.ok(p.cost(4000) >= p.cost(1000));
});
