// The one chunk store on the real engine: Responses-style chains (a name per conversation),
// branches (two follow-ups of one turn), edited histories and chat-completions clients that
// resend their history with no id, over tiers far smaller than the working set, with a
// restart and a corrupted chunk file. Every greedy output must equal a stateless
// recomputation, and a request must reuse the whole common prefix (to the chunk) it shares
// with any history the store has kept.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { Engine } from '../../../src/engine/engine.js';
import { GREEDY } from '../../../src/engine/sampler.js';
import type { LoadedModel } from '../../../src/model/load.js';
import { randomInt } from '../../helpers/random.js';
import { drain, loadStories, statelessOutputs, tempDir, tieredEngine, type Finish } from './helpers.js';

let model: LoadedModel;
before(async () => {
  model = await loadStories();
});

const tokens = (n: number, seed: number) => {
  const r = randomInt(seed);
  return Array.from({ length: n }, () => 10 + r(490));
};
const commonPrefix = (a: readonly number[], b: readonly number[]) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

async function run(e: Engine, id: string, prompt: number[], conversationId: string | null, maxTokens = 6): Promise<Finish> {
  e.add({ id, promptTokens: prompt, conversationId, sampling: GREEDY, maxTokens });
  const done = (await drain(e)).get(id)!;
  const [expected] = await statelessOutputs(model, [{ prompt, maxTokens }]);
  assert.deepEqual(done.outputTokens, expected, `${id}: output differs from stateless recomputation`);
  return done;
}

test('a second follow-up on one turn reuses the whole prefix it shares with the first', async () => {
  const e = tieredEngine(model, { deviceBlocks: 64, hostChunks: 8, diskChunks: 0 });
  const first = tokens(170, 1);
  const r1 = await run(e, 'r1', first, 'conv');
  const history = [...first, ...r1.outputTokens];
  const a = [...history, ...tokens(60, 2)];
  const b = [...history, ...tokens(70, 3)];
  await run(e, 'a', a, 'conv');
  const second = await run(e, 'b', b, 'conv');
  // 176 of its 246 tokens: the shared history, to the block (its last block differs).
  const shared = Math.floor(commonPrefix(a, b) / 16) * 16;
  assert.ok(second.usage.cachedTokens >= shared, `b reused ${second.usage.cachedTokens} of ${b.length}, the shared prefix is ${shared}`);
  // The first branch keeps its own tail: continuing it reuses everything it had.
  const r1a = await run(e, 'a2', [...a, ...tokens(5, 4)], 'conv');
  assert.ok(r1a.usage.cachedTokens >= a.length, `the first branch kept its tail (${r1a.usage.cachedTokens} of ${a.length})`);
  await e.close();
});

test('a chat-completions client resending its history is served from the host tier after its device blocks were evicted', async () => {
  const e = tieredEngine(model, { deviceBlocks: 16, hostChunks: 16, diskChunks: 0 }, { chunkCost: (l) => 1 + l / 32, swapOutThreshold: 0 });
  const prompt = tokens(150, 10);
  const r1 = await run(e, 'c1', prompt, null);
  // Another client fills the device: the first one's chunks go down to the host tier.
  await run(e, 'other', tokens(200, 11), null);
  assert.ok(e.stats().cache.tiers.savedChunks.host > 0, 'chunks were saved to the host tier');
  const resend = [...prompt, ...r1.outputTokens, ...tokens(9, 12)];
  const r2 = await run(e, 'c2', resend, null);
  const history = prompt.length + r1.outputTokens.length - 1;
  assert.ok(r2.usage.cachedByTier.host >= 64, `host tier served ${JSON.stringify(r2.usage.cachedByTier)}`);
  assert.ok(r2.usage.cachedTokens >= Math.floor(history / 32) * 32, `the resend reused ${r2.usage.cachedTokens} of its ${history}-token history`);
  await e.close();
});

test('after a restart, chunk files serve a stateless client that resends the history', async () => {
  const dir = tempDir('pensieve-store-restart-');
  const tiers = { deviceBlocks: 32, hostChunks: 0, diskChunks: 64, diskDir: dir };
  const first = tieredEngine(model, tiers);
  const prompt = tokens(130, 20);
  const r1 = await run(first, 'r1', prompt, 'named-before-restart');
  await first.close();
  const second = tieredEngine(model, tiers);
  const resend = [...prompt, ...r1.outputTokens, ...tokens(8, 21)];
  const r2 = await run(second, 'r2', resend, null);
  const history = prompt.length + r1.outputTokens.length - 1;
  assert.equal(r2.usage.cachedByTier.disk, history, 'the whole history came from the files');
  await second.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('random Responses chains, branches, edits and chat resends over tiny tiers, with a restart and a corrupt file, match stateless recomputation and reuse their common prefixes', async (t) => {
  const rand = randomInt(14);
  const dir = tempDir('pensieve-store-prop-');
  // Room below the device for every history, so nothing is dropped and reuse is exact.
  const tiers = { deviceBlocks: 40, hostChunks: 24, diskChunks: 400, diskDir: dir };
  let engine = tieredEngine(model, tiers);
  const kept: number[][] = []; // every history the store was given
  const byName = new Map<string, number[]>();
  const chats: number[][] = [];
  const totals = { requests: 0, cached: 0, prompt: 0, host: 0, disk: 0, branches: 0, edits: 0, resends: 0, sharedLoads: 0 };
  let next = 0;
  let restarted = false;
  for (let round = 0; round < 70; round++) {
    if (round === 45) {
      // Restart with one chunk file corrupted: outputs must stay exact.
      totals.sharedLoads += engine.stats().cache.tiers.sharedLoads;
      await engine.close();
      const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.kv'));
      assert.ok(files.length > 0);
      const victim = path.join(dir, files[rand(files.length)]!);
      const bytes = fs.readFileSync(victim);
      bytes[4096 + 50]! ^= 0xff;
      fs.writeFileSync(victim, bytes);
      engine = tieredEngine(model, tiers);
      restarted = true;
    }
    const kind = rand(4);
    let prompt: number[];
    let name: string | null = null;
    const names = [...byName.keys()];
    if (kind === 0 || names.length === 0) {
      name = `conv${rand(6)}`;
      const h = byName.get(name) ?? [];
      prompt = [...(h.length > 250 ? [] : h), ...tokens(5 + rand(30), 1000 + round)];
    } else if (kind === 1) {
      // A branch: a follow-up of a turn that was already continued, or an edited history.
      name = names[rand(names.length)]!;
      const h = byName.get(name)!;
      const cut = rand(3) === 0 ? rand(h.length) : h.length - rand(Math.min(h.length, 40));
      prompt = [...h.slice(0, cut), ...tokens(5 + rand(20), 2000 + round)];
      totals[cut < h.length - 30 ? 'edits' : 'branches']++;
    } else {
      // A chat-completions client: no id, the whole history again.
      const c = chats.length > 0 && rand(4) !== 0 ? rand(chats.length) : -1;
      const h = c < 0 ? [] : chats[c]!;
      prompt = [...(h.length > 250 ? [] : h), ...tokens(5 + rand(25), 3000 + round)];
      totals.resends += h.length > 0 ? 1 : 0;
    }
    const maxTokens = 3 + rand(8);
    const id = `r${next++}`;
    engine.add({ id, promptTokens: prompt, conversationId: name, sampling: GREEDY, maxTokens });
    const done = (await drain(engine)).get(id)!;
    const [expected] = await statelessOutputs(model, [{ prompt, maxTokens }]);
    assert.deepEqual(done.outputTokens, expected, `round ${round}: output differs from stateless recomputation`);
    const history = [...prompt, ...done.outputTokens];
    const best = Math.max(0, ...kept.map((h) => commonPrefix(prompt, h.slice(0, h.length - 1))));
    const mustReuse = Math.floor(Math.min(best, prompt.length - 1) / 32) * 32;
    // After the restart the corrupt file's chunk (and the ones it was a prefix of) may be recomputed.
    if (!restarted) assert.ok(done.usage.cachedTokens >= mustReuse, `round ${round}: reused ${done.usage.cachedTokens}, shares ${best} with a kept history`);
    else assert.ok(done.usage.cachedTokens + done.usage.recomputedTokens >= mustReuse, `round ${round}: reused or recomputed ${done.usage.cachedTokens + done.usage.recomputedTokens}, shares ${best}`);
    totals.requests++;
    totals.cached += done.usage.cachedTokens;
    totals.prompt += prompt.length;
    totals.host += done.usage.cachedByTier.host;
    totals.disk += done.usage.cachedByTier.disk;
    kept.push(history);
    if (name !== null) byName.set(name, history);
    else chats.push(history);
  }
  totals.sharedLoads += engine.stats().cache.tiers.sharedLoads;
  await engine.close();
  t.diagnostic(JSON.stringify(totals));
  assert.ok(totals.host > 0 && totals.disk > 0, 'both lower tiers served prompts');
  assert.ok(totals.sharedLoads > 0, 'chunks were swapped in from chains the request did not continue');
  assert.ok(totals.branches > 0 && totals.edits > 0 && totals.resends > 0);
  fs.rmSync(dir, { recursive: true, force: true });
});
