// Each conversation's layout in the engine's stats: four counts per named conversation that
// agree with the cache's own record chunk by chunk, sum to the history's chunks, and follow an
// idle conversation down the tiers as others fill the device.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { MAX_LAYOUTS } from '../../src/engine/conversation-layout.js';
import { GREEDY } from '../../src/engine/sampler.js';
import type { LoadedModel } from '../../src/model/load.js';
import { drain, loadStories, tempDir, tieredEngine } from './tiers/helpers.js';

let model: LoadedModel;
before(async () => {
  model = await loadStories();
});

const prompt = (seed: number, n: number) => Array.from({ length: n }, (_, i) => 1 + ((seed * 131 + i * 17) % 400));

test('layouts count each conversation\'s chunks by tier and follow it down the tiers', async () => {
  const e = tieredEngine(model, { deviceBlocks: 24, hostChunks: 2, diskChunks: 6, diskDir: tempDir('pensieve-layout-') });
  e.add({ id: 'r0', promptTokens: prompt(0, 90), conversationId: 'first', sampling: GREEDY, maxTokens: 8 });
  await drain(e);
  const fresh = e.stats().conversations.find((c) => c.id === 'first')!;
  assert.equal(fresh.tokens, e.kv.conversation('first')!.tokens.length);
  assert.ok(fresh.tokens >= 90);
  assert.deepEqual(fresh.chunks, { dropped: 0, disk: 0, host: 0, device: Math.ceil(fresh.tokens / 32) });
  assert.equal(fresh.active, false);

  const seen = new Set<string>();
  for (let i = 1; i <= 6; i++) {
    e.add({ id: `r${i}`, promptTokens: prompt(i, 150), conversationId: `other${i}`, sampling: GREEDY, maxTokens: 8 });
    await drain(e);
    const { conversations } = e.stats();
    assert.equal(conversations[0]!.id, `other${i}`, 'the most recently used first');
    for (const layout of conversations) {
      const view = e.kv.conversation(layout.id)!;
      const expected = { dropped: 0, disk: 0, host: 0, device: 0 };
      for (const t of view.chunks) expected[t]++;
      assert.deepEqual(layout.chunks, expected, layout.id);
      assert.equal(view.chunks.length, Math.ceil(layout.tokens / 32));
    }
    const first = conversations.find((c) => c.id === 'first')!;
    for (const tier of ['dropped', 'disk', 'host'] as const) if (first.chunks[tier] > 0) seen.add(tier);
  }
  const last = e.stats().conversations.find((c) => c.id === 'first')!;
  assert.equal(last.chunks.device, 0, `left the device: ${JSON.stringify(last.chunks)}`);
  assert.ok(seen.size >= 2, `passed through lower tiers: ${[...seen].join(', ')}`);
  assert.ok(MAX_LAYOUTS >= 7);
});
