// Hundreds of random conversation turns through tiers far smaller than the working set,
// on the real engine and kernels: every turn reuses what it can from wherever it lives
// (device in place, host and disk swap-ins, dropped prefixes recomputed in the same pass
// as the new prompt, mixes of all), the engine restarts halfway with one chunk file
// corrupted, and every greedy output must equal a stateless recomputation.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { Engine } from '../../../src/engine/engine.js';
import { GREEDY } from '../../../src/engine/sampler.js';
import { decodeHeader } from '../../../src/engine/tiers/chunk-file.js';
import type { LoadedModel } from '../../../src/model/load.js';
import { randomInt } from '../../helpers/random.js';
import { drain, loadStories, statelessOutputs, tempDir, tieredEngine, type Finish } from './helpers.js';

let model: LoadedModel;
before(async () => {
  model = await loadStories();
});

const WORDS = [
  ' Once upon a time', ' there was a little girl', ' named Lily.', ' She loved to play', ' in the park.', ' One day,', ' a big dog',
  ' came to her.', ' Tom saw a bird', ' and smiled.', ' The sun was hot.', ' Mom said no.', ' They went home', ' and ate cake.',
  ' The cat was sad.', ' He found a toy', ' under the tree.', ' It was fun!',
];

interface Turn {
  conv: string;
  prompt: number[];
  maxTokens: number;
}

test('random conversations through small device, host and disk tiers, with a restart, match stateless recomputation', async (t) => {
  const rand = randomInt(20240611);
  const dir = tempDir('pensieve-tiers-prop-');
  const tiers = { deviceBlocks: 40, hostChunks: 12, diskChunks: 64, diskDir: dir };
  let engine: Engine = tieredEngine(model, tiers);
  const histories = new Map<string, number[]>();
  const convs = Array.from({ length: 32 }, (_, i) => `c${i}`);
  const usages: Finish['usage'][] = [];
  const totals = { device: 0, host: 0, disk: 0, recomputed: 0, turns: 0, diskErrors: 0 };
  let next = 0;
  let corrupted: string | null = null;

  const text = () => Array.from({ length: 1 + rand(4) }, () => WORDS[rand(WORDS.length)]!).join('');
  const collect = (e: Engine) => {
    const s = e.stats();
    totals.device += s.servedTokens.device;
    totals.host += s.servedTokens.host;
    totals.disk += s.servedTokens.disk;
    totals.recomputed += s.cache.recomputedTokens;
    totals.diskErrors += s.io.diskErrors;
  };

  for (let round = 0; totals.turns < 300; round++) {
    if (round === 40) {
      // Restart: device and host are lost, the disk chunks survive, one of them corrupted.
      collect(engine);
      await engine.close();
      const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.kv'));
      assert.ok(files.length > 0, 'chunk files were written');
      const victim = path.join(dir, files[rand(files.length)]!);
      const header = decodeHeader(fs.readFileSync(victim).subarray(0, 4096));
      assert.ok(typeof header !== 'string');
      const fd = fs.openSync(victim, 'r+');
      fs.writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, 4096 + 100); // in the payload
      fs.closeSync(fd);
      corrupted = header.conversationId;
      engine = tieredEngine(model, tiers);
      assert.ok(engine.stats().cache.tiers.persistedChunks > 0, 'the chunk files were found again');
    }
    // A few conversations take a turn at once; a conversation whose history grew long restarts.
    const batch: Turn[] = [];
    const picked = Array.from({ length: 1 + rand(6) }, () => convs[rand(convs.length)]!);
    // The corrupted chunk's conversation returns: the file must be refused.
    const corruptedConv = corrupted;
    if (corrupted !== null) picked.push(corrupted);
    corrupted = null;
    for (const conv of new Set(picked)) {
      let history = histories.get(conv) ?? [];
      if (history.length > 240 && conv !== corruptedConv) history = [];
      const prompt = [...history, ...model.tokenizer.encode(text(), { addBos: history.length === 0 })];
      batch.push({ conv, prompt, maxTokens: 4 + rand(20) });
    }
    const ids = batch.map(() => `r${next++}`);
    batch.forEach((t, i) => engine.add({ id: ids[i]!, promptTokens: t.prompt, conversationId: t.conv, sampling: GREEDY, maxTokens: t.maxTokens }));
    const done = await drain(engine);
    const expected = await statelessOutputs(model, batch);
    batch.forEach((t, i) => {
      const got = done.get(ids[i]!)!;
      assert.deepEqual(got.outputTokens, expected[i], `round ${round}, ${t.conv}: output differs from stateless recomputation`);
      // (More than the prompt when a preempted request computed some of it again.)
      assert.ok(got.usage.cachedTokens + got.usage.computedPromptTokens >= t.prompt.length, `round ${round}, ${t.conv}: prompt accounting`);
      const byTier = got.usage.cachedByTier;
      assert.equal(byTier.device + byTier.host + byTier.disk, got.usage.cachedTokens);
      usages.push(got.usage);
      histories.set(t.conv, [...t.prompt, ...got.outputTokens]);
      totals.turns++;
    });
  }
  collect(engine);
  await engine.close();
  t.diagnostic(`tokens served: ${JSON.stringify(totals)}`);

  // Every path was taken, alone and mixed within one request.
  assert.ok(totals.device > 0, 'device hits');
  assert.ok(totals.host > 0, 'host swap-ins');
  assert.ok(totals.disk > 0, 'disk swap-ins');
  assert.ok(totals.recomputed > 0, 'dropped chunks recomputed');
  assert.ok(totals.diskErrors > 0, 'the corrupted chunk file was detected');
  // Mixes within one request: which sources served it.
  const mixes = new Map<string, number>();
  for (const u of usages) {
    const sources: string[] = (['device', 'host', 'disk'] as const).filter((k) => u.cachedByTier[k] > 0);
    if (u.recomputedTokens > 0) sources.push('recompute');
    const key = sources.join('+');
    mixes.set(key, (mixes.get(key) ?? 0) + 1);
  }
  t.diagnostic(`requests by source: ${JSON.stringify(Object.fromEntries(mixes))}`);
  // (All four in one request is forced deterministically in restore.test.ts.)
  const has = (pred: (k: string) => boolean) => [...mixes.keys()].some(pred);
  assert.ok(has((k) => k.includes('disk') && k.includes('recompute')), 'disk swap-in with a recomputed prefix');
  assert.ok(has((k) => k.includes('host') && k.includes('device')), 'host swap-in with device chunks');
  assert.ok(has((k) => k.includes('host') && k.includes('disk')), 'host and disk swap-ins together');
  fs.rmSync(dir, { recursive: true, force: true });
});
