// The cache's side of the KV tier shared by replicas, on the bookkeeping alone: which of a
// prompt's chunks are asked for (only full ones no local tier holds), how a chunk that
// comes back is adopted into a disk slot (by retention value, never evicting the prompt's
// own chunks) and served by the usual swap-in path with its tokens counted as the shared
// tier's, and what a drain sends. The FakeEngine checks content along with the accounting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TierCapacities } from '../../src/cache/chunk-tiers.js';
import { LruPolicy, RetentionPolicy, type EvictionPolicy } from '../../src/cache/eviction-policy.js';
import { prefixKeys, tieredCache } from './harness.js';

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function setup(numBlocks: number, tiers: TierCapacities, policy: EvictionPolicy = new LruPolicy()) {
  const { m, e, clock, check } = tieredCache('shared', numBlocks, tiers, policy);
  const turn = (conv: string, tokens: number[], at: number) => {
    clock.now = at;
    const id = `${conv}@${at}`;
    const items = m.prepareRequest(id, tokens, conv);
    const restored = m.restore(items);
    assert.ok(restored);
    e.sync();
    const match = m.beginRequest(id, tokens, conv);
    e.prefill(id);
    m.finishRequest(id);
    check();
    return { match, restored };
  };
  /** What the engine does with a chunk the shared tier returned: a slot, then the file (here, the keys its KV stands for). */
  const adopt = (prompt: number[], c: number, key: string, protect: string[] = []) => {
    const slot = m.adoptSharedChunk({ conversationId: 'replica-2:x', chunkIndex: c, numTokens: 32, tokenHash: key, lastAccess: clock.now }, protect);
    e.sync(); // the room it made first
    if (slot !== null) {
      const keys = prefixKeys(prompt);
      e.lower.disk.set(slot, [0, 1].map((b) => range(16, c * 32 + b * 16).map((p) => keys[p])));
    }
    return slot;
  };
  return { m, e, clock, check, turn, adopt };
}

test('only the full chunks of a prompt that no local tier holds are asked for', () => {
  const { m, turn } = setup(8, { hostChunks: 2, diskChunks: 8 });
  const history = range(96, 100);
  turn('a', history, 0); // three chunks on device
  const prompt = [...history, ...range(70, 500)]; // 166 tokens: full chunks 0..4 before the last token
  const asked = () => m.sharedTierWants(null, prompt);
  assert.deepEqual(asked().wants.map((w) => w.chunk), [3, 4]);
  assert.equal(asked().keys.length, 5);
  turn('b', range(128, 300), 10); // the device is b's: a's chunks go to host and disk
  assert.ok(m.conversation('a')!.chunks.every((t) => t === 'host' || t === 'disk'), m.conversation('a')!.chunks.join());
  assert.deepEqual(asked().wants.map((w) => w.chunk), [3, 4], 'lower tiers count as local, found by key');
  assert.deepEqual(m.sharedTierWants(null, range(40, 900)).wants.map((w) => w.chunk), [0]);
  assert.deepEqual(m.sharedTierWants(null, range(32, 900)).wants, [], 'the last prompt token is always computed: a chunk ending on it is not asked for');
  assert.deepEqual(m.sharedTierWants(null, range(31, 900)).wants, [], 'a short chunk is never asked for');

  const noDisk = setup(8, { hostChunks: 2, diskChunks: 0 }).m;
  assert.deepEqual(noDisk.sharedTierWants(null, prompt), { wants: [], keys: [] }, 'without a disk tier nothing is asked: its chunks pass through it');
});

test('a chunk from the shared tier is swapped in like a chunk file found at start-up, and counted as the shared tier\'s once', () => {
  const { m, e, clock, check, turn, adopt } = setup(16, { hostChunks: 0, diskChunks: 4 });
  const prompt = range(100, 1000);
  const { wants, keys } = m.sharedTierWants('r', prompt);
  assert.deepEqual(wants.map((w) => w.chunk), [0, 1, 2]);
  for (const w of wants) assert.notEqual(adopt(prompt, w.chunk, w.key, keys), null);
  assert.equal(m.stats().tiers.sharedTierChunks, 3);
  assert.equal(m.stats().tiers.persistedChunks, 3);
  assert.deepEqual(m.sharedTierWants('r', prompt).wants, [], 'nothing is asked for twice');
  m.abandonRequest('r');

  clock.now = 5;
  const { match, restored } = turn('x', prompt, 5);
  assert.deepEqual(restored!.map((it) => [it.chunk, it.tier, it.fromSharedTier]), [[0, 'disk', true], [1, 'disk', true], [2, 'disk', true]]);
  assert.equal(match.numCachedTokens, 96);
  assert.equal(match.numRecomputedTokens, 0);
  // Evicted to disk and back: a local swap-in now, not the shared tier's.
  turn('y', range(250, 5000), 10);
  assert.deepEqual(m.conversation('x')!.chunks.slice(0, 3), ['disk', 'disk', 'disk']);
  const again = turn('x', [...prompt, 7, 8], 20);
  assert.ok(again.restored!.length >= 3);
  assert.ok(again.restored!.every((it) => it.fromSharedTier === undefined), 'the mark went with the first swap-in');

  // A drain sends every full chunk the disk holds, with the identity its file records.
  const shared = m.diskChunksToShare();
  const x = m.conversation('x')!;
  assert.deepEqual(shared.filter((s) => s.meta.conversationId === x.id).map((s) => [s.meta.chunkIndex, s.meta.tokenHash]), [0, 1, 2].map((c) => [c, keys[c]]));
  for (const s of shared) assert.equal(s.meta.numTokens, 32);
  check();
  void e;
});

test('adopting a fetched chunk evicts the disk\'s lowest-value entry, never one of the prompt\'s own chunks', () => {
  const policy = new RetentionPolicy((l) => 1 + l / 32);
  const { m, clock, check, turn, adopt } = setup(4, { hostChunks: 0, diskChunks: 2 }, policy);
  const old = range(64, 100);
  turn('old', old, 0);
  turn('new', range(64, 300), 1000); // old's two chunks go to disk: it is full
  assert.deepEqual(m.conversation('old')!.chunks, ['disk', 'disk']);
  clock.now = 2000;
  const prompt = range(80, 7000);
  const { wants, keys } = m.sharedTierWants('p', prompt);
  assert.deepEqual(wants.map((w) => w.chunk), [0, 1]);
  // Protected: the prompt's own keys and old's remaining chunk.
  const oldKeys = m.sharedTierWants('q', [...old, 1]).keys;
  const first = adopt(prompt, 0, wants[0]!.key, keys);
  assert.notEqual(first, null, 'used now, the fetched chunk is worth more than a chunk idle for 2 s');
  assert.deepEqual(m.conversation('old')!.chunks, ['dropped', 'disk'], 'old\'s leading chunk made room');
  assert.equal(adopt(prompt, 1, wants[1]!.key, [...keys, ...oldKeys]), null, 'the rest of the disk is protected');
  assert.deepEqual(m.conversation('old')!.chunks, ['dropped', 'disk']);
  m.abandonRequest('p');
  m.abandonRequest('q');
  check();
});
