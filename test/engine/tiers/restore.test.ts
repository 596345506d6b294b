// Restoring a returning conversation on the real engine: from every tier at once, after a
// restart (from the disk files alone), past a corrupt file, and without holding up other
// requests while its disk reads are in flight. Greedy outputs must equal a stateless run.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { GREEDY } from '../../../src/engine/sampler.js';
import type { LoadedModel } from '../../../src/model/load.js';
import { randomInt } from '../../helpers/random.js';
import { drain, loadStories, statelessOutputs, tempDir, tieredEngine } from './helpers.js';

let model: LoadedModel;
before(async () => {
  model = await loadStories();
});

const tokens = (n: number, seed: number) => {
  const r = randomInt(seed);
  return Array.from({ length: n }, () => 10 + r(490));
};

// Deterministic eviction order, no ahead-of-time copies: the layouts below are exact.
const FIXED = { chunkCost: (l: number) => 1 + l / 32, swapOutThreshold: 0 };

for (const kvDType of ['f32', 'bf16'] as const) {
  test(`one request reuses device chunks, swaps in host and disk chunks and recomputes its dropped prefix, in one pass (${kvDType} KV)`, async () => {
    const e = tieredEngine(model, { deviceBlocks: 16, hostChunks: 1, diskChunks: 1, diskDir: tempDir('pensieve-restore-') }, { ...FIXED, kvDType });
    const a = tokens(150, 1);
    e.add({ id: 'a1', promptTokens: a, conversationId: 'a', sampling: GREEDY, maxTokens: 4 });
    const a1 = (await drain(e)).get('a1')!;
    // b needs 12 of the 16 blocks: three of a's chunks leave, one tier at a time.
    e.add({ id: 'b1', promptTokens: tokens(185, 2), conversationId: 'b', sampling: GREEDY, maxTokens: 4 });
    await drain(e);
    assert.deepEqual(e.kv.conversation('a')!.chunks, ['dropped', 'disk', 'host', 'device', 'device']);

    const prompt = [...a, ...a1.outputTokens, ...tokens(10, 3)];
    e.add({ id: 'a2', promptTokens: prompt, conversationId: 'a', sampling: GREEDY, maxTokens: 8 });
    const a2 = (await drain(e)).get('a2')!;
    const [expected] = await statelessOutputs(model, [{ prompt, maxTokens: 8 }], kvDType);
    assert.deepEqual(a2.outputTokens, expected);
    const history = a.length + a1.outputTokens.length - 1; // the last sampled token was never fed back
    assert.deepEqual(a2.usage.cachedByTier, { device: history - 96, host: 32, disk: 32, shared: 0 });
    assert.equal(a2.usage.recomputedTokens, 32);
    assert.equal(a2.usage.cachedTokens, history - 32);
    const s = e.stats();
    assert.equal(s.io.swapInBytes.host, s.tiers.host.capacityBytes, 'one host chunk was copied in');
    assert.ok(s.io.swapInBytes.disk > 0);
    await e.close();
  });

  test(`after a restart a conversation resumes from its disk chunks with the same output; a corrupt chunk file is recomputed (${kvDType} KV)`, async () => {
    const dir = tempDir('pensieve-restart-');
    const tiers = { deviceBlocks: 24, hostChunks: 0, diskChunks: 64, diskDir: dir };
    const first = tieredEngine(model, tiers, { swapOutThreshold: 1, kvDType }); // copy everything idle to disk ahead of time
    const histories = new Map<string, number[]>();
    for (const [i, conv] of ['x', 'y'].entries()) {
      const prompt = tokens(100 + 20 * i, 10 + i);
      first.add({ id: `${conv}1`, promptTokens: prompt, conversationId: conv, sampling: GREEDY, maxTokens: 6 });
      const done = await drain(first);
      histories.set(conv, [...prompt, ...done.get(`${conv}1`)!.outputTokens]);
    }
    // Idle steps give the ahead-of-time swap-out its turns.
    for (let i = 0; i < 10; i++) first.step();
    await first.close();
    const saved = first.stats().cache.tiers.savedChunks.disk;
    assert.ok(saved >= 6, `idle chunks were copied to disk (${saved})`);

    // Corrupt one chunk of y: flip payload bytes of the file whose header names y's chunk 1.
    const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.kv'));
    const victim = files.map((f) => path.join(dir, f)).find((f) => fs.readFileSync(f).subarray(0, 4096).toString('latin1').includes('"conversationId":"y","chunkIndex":1,'));
    assert.ok(victim, 'y has a chunk 1 file');
    const bytes = fs.readFileSync(victim);
    bytes[4096 + 200]! ^= 0xff;
    fs.writeFileSync(victim, bytes);

    const warnings: string[] = [];
    const second = tieredEngine(model, tiers, { warn: (m) => warnings.push(m), kvDType });
    assert.ok(second.stats().cache.tiers.persistedChunks >= 6);
    const jobs = ['x', 'y'].map((conv, i) => ({ conv, prompt: [...histories.get(conv)!, ...tokens(12, 20 + i)], maxTokens: 10 }));
    jobs.forEach((j) => second.add({ id: `${j.conv}2`, promptTokens: j.prompt, conversationId: j.conv, sampling: GREEDY, maxTokens: j.maxTokens }));
    const done = await drain(second);
    const expected = await statelessOutputs(model, jobs, kvDType);
    jobs.forEach((j, i) => assert.deepEqual(done.get(`${j.conv}2`)!.outputTokens, expected[i], `${j.conv} after the restart`));

    const x = done.get('x2')!.usage;
    const historyX = histories.get('x')!.length - 1;
    assert.equal(x.cachedByTier.disk, Math.floor(historyX / 32) * 32 + (historyX % 32), 'x: all of its history came from disk');
    assert.equal(x.recomputedTokens, 0);
    const y = done.get('y2')!.usage;
    // y's chunk 1 failed its checksum: it and the chunk before it are recomputed, the rest read.
    assert.equal(y.recomputedTokens, 64);
    assert.equal(y.cachedByTier.disk, histories.get('y')!.length - 1 - 64);
    assert.ok(warnings.some((w) => /checksum/.test(w)), `the corrupt file was reported: ${warnings.join('; ')}`);
    assert.equal(second.stats().io.diskErrors, 1);
    assert.equal(second.stats().io.syncReads, 0, 'every disk read was a prefetch');
    await second.close();
  });
}

test('a graceful close copies resident conversations to disk; after a restart they resume from there', async () => {
  const dir = tempDir('pensieve-close-');
  const tiers = { deviceBlocks: 64, hostChunks: 2, diskChunks: 64, diskDir: dir };
  const first = tieredEngine(model, tiers, FIXED);
  const jobs = ['p', 'q', 'r'].map((conv, i) => ({ conv, prompt: tokens(90 + 30 * i, 40 + i) }));
  jobs.forEach((j) => first.add({ id: `${j.conv}1`, promptTokens: j.prompt, conversationId: j.conv, sampling: GREEDY, maxTokens: 5 }));
  const done1 = await drain(first);
  assert.equal(first.stats().cache.tiers.savedChunks.disk, 0, 'nothing needed the disk while running');
  await first.close();
  assert.ok(first.stats().cache.tiers.savedChunks.disk >= 9);

  const second = tieredEngine(model, tiers, FIXED);
  const next = jobs.map((j, i) => ({ ...j, prompt: [...j.prompt, ...done1.get(`${j.conv}1`)!.outputTokens, ...tokens(7, 50 + i)], maxTokens: 6 }));
  next.forEach((j) => second.add({ id: `${j.conv}2`, promptTokens: j.prompt, conversationId: j.conv, sampling: GREEDY, maxTokens: j.maxTokens }));
  const done2 = await drain(second);
  const expected = await statelessOutputs(model, next);
  next.forEach((j, i) => {
    const got = done2.get(`${j.conv}2`)!;
    assert.deepEqual(got.outputTokens, expected[i]);
    assert.equal(got.usage.cachedByTier.disk, j.prompt.length - 7 - 1, `${j.conv}: the whole history came from disk`);
  });
  await second.close();
});

test('a request waiting for its disk reads does not hold up the requests behind it', async () => {
  const dir = tempDir('pensieve-prefetch-');
  const tiers = { deviceBlocks: 24, hostChunks: 0, diskChunks: 32, diskDir: dir };
  const first = tieredEngine(model, tiers, { swapOutThreshold: 1 });
  const prompt = tokens(120, 30);
  first.add({ id: 'a1', promptTokens: prompt, conversationId: 'a', sampling: GREEDY, maxTokens: 4 });
  const a1 = (await drain(first)).get('a1')!;
  for (let i = 0; i < 10; i++) first.step();
  await first.close();

  const second = tieredEngine(model, tiers);
  second.add({ id: 'a2', promptTokens: [...prompt, ...a1.outputTokens, 5, 6], conversationId: 'a', sampling: GREEDY, maxTokens: 4 });
  second.add({ id: 'b', promptTokens: tokens(20, 31), conversationId: 'b', sampling: GREEDY, maxTokens: 4 });
  second.step(); // no I/O has landed yet: a2 waits for its reads, b runs
  const s = second.stats();
  assert.equal(s.running, 1);
  assert.equal(s.waiting, 1);
  assert.ok(s.io.pendingReads > 0, 'a2\'s chunks are being read');
  const done = await drain(second);
  assert.ok(done.get('a2')!.usage.cachedByTier.disk > 0);
  assert.equal(done.get('a2')!.usage.recomputedTokens, 0);
  await second.close();
});
