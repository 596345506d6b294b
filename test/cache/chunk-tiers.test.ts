// The lower tiers' bookkeeping: where an evicted chunk goes, what an ahead-of-time copy
// saves, what a returning conversation swaps in, and how chunk files found after a
// restart are matched to a conversation. The FakeEngine executes every transfer on a
// simulated memory, so content is checked along with the accounting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashChain, prefixHash } from '../../src/cache/block-hash.js';
import type { TierCapacities } from '../../src/cache/chunk-tiers.js';
import { LruPolicy, RetentionPolicy, type EvictionPolicy } from '../../src/cache/eviction-policy.js';
import { checkInvariants, tieredCache } from './harness.js';

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function setup(numBlocks: number, tiers: TierCapacities, policy: EvictionPolicy = new LruPolicy()) {
  const { m, e, clock, check } = tieredCache('tiers', numBlocks, tiers, policy);
  /** One finished turn of `tokens` on conversation `conv` at time `at`. */
  const turn = (conv: string, tokens: number[], at: number) => {
    clock.now = at;
    const items = m.prepareConversation(conv, tokens);
    assert.ok(m.restoreConversation(conv, items));
    e.sync();
    const match = m.beginRequest(`${conv}@${at}`, tokens, conv);
    e.prefill(`${conv}@${at}`);
    m.finishRequest(`${conv}@${at}`);
    check();
    return { match, items };
  };
  return { m, e, clock, check, turn };
}

test('evicted chunks go down one tier at a time: device → host → disk → dropped', () => {
  // 4 blocks = 2 chunks on device, 2 host chunks, 2 disk chunks.
  const { m, e, turn } = setup(4, { hostChunks: 2, diskChunks: 2 });
  turn('a', range(64, 100), 0); // a: 2 chunks on device
  turn('b', range(64, 200), 10); // b needs the device: a goes to host
  assert.deepEqual(m.conversation('a')!.chunks, ['host', 'host']);
  turn('c', range(64, 300), 20); // c: b to host, a to disk
  assert.deepEqual(m.conversation('a')!.chunks, ['disk', 'disk']);
  assert.deepEqual(m.conversation('b')!.chunks, ['host', 'host']);
  turn('d', range(64, 400), 30); // d: c to host, b to disk, a dropped
  assert.deepEqual(m.conversation('a')!.chunks, ['dropped', 'dropped']);
  assert.deepEqual(m.conversation('b')!.chunks, ['disk', 'disk']);
  assert.deepEqual(m.conversation('c')!.chunks, ['host', 'host']);
  const t = m.stats().tiers;
  assert.deepEqual(t.savedChunks, { host: 6, disk: 0 });
  assert.equal(t.demotedChunks, 4);
  assert.equal(t.droppedChunks, 2);
  assert.equal(e.transfers.demote, 4);
});

test('a conversation restored from host and disk reuses every token and keeps the lower copies', () => {
  const { m, e, turn } = setup(6, { hostChunks: 2, diskChunks: 2 });
  const a = range(64, 100);
  turn('a', a, 0);
  turn('b', range(64, 200), 10);
  turn('c', range(64, 300), 20); // a: 2 chunks evicted → host, then demoted → disk by b's and c's arrival
  const before = m.conversation('a')!.chunks.slice();
  assert.ok(before.every((t) => t === 'host' || t === 'disk'), `a is below the device: ${before}`);
  const prompt = [...a, 7, 8, 9];
  const loadsBefore = e.transfers.load!;
  const { match, items } = turn('a', prompt, 30);
  assert.equal(items.length, 2);
  assert.equal(match.numCachedTokens, 64, 'everything of the history is reused');
  assert.equal(match.numRecomputedTokens, 0);
  assert.equal(e.transfers.load! - loadsBefore, 2);
  const conv = m.conversation('a')!;
  assert.deepEqual(conv.chunks.slice(0, 2), ['device', 'device']);
  // The slots it was read from stay as copies: evicting a again is free.
  assert.ok(conv.host.slice(0, 2).some((s) => s >= 0) || conv.disk.slice(0, 2).some((s) => s >= 0));
});

test('ahead-of-time swap-out copies the lowest-value chunks; eviction then reclaims them for free', () => {
  const { m, e, turn, check } = setup(8, { hostChunks: 4, diskChunks: 0 });
  turn('a', range(64, 100), 0);
  turn('b', range(64, 200), 5);
  assert.equal(m.blocks.numFree, 0);
  assert.equal(m.swapOutAhead(0.5, 1), 1, 'one chunk per call at most');
  assert.deepEqual(m.conversation('a')!.host, [0, -1]);
  assert.equal(m.swapOutAhead(0.5, 8), 1, 'stops once half of the pool is free for the asking');
  check();
  assert.equal(m.stats().tiers.aheadOfTimeChunks, 2);
  assert.equal(m.stats().tiers.hostCopies, 2);
  const saves = e.transfers.save!;
  turn('c', range(64, 300), 10); // needs 4 blocks: a's two chunks are reclaimed, no copy
  assert.equal(e.transfers.save, saves, 'no copy at eviction time');
  assert.deepEqual(m.conversation('a')!.chunks, ['host', 'host']);
  assert.equal(m.stats().tiers.reclaimedChunks, 2);
  assert.equal(m.swapOutAhead(0.0, 8), 0, 'nothing to do above the threshold');
});

test('queued and running conversations are neither evicted nor copied ahead of time', () => {
  const { m, turn } = setup(8, { hostChunks: 4, diskChunks: 4 });
  turn('a', range(64, 100), 0);
  turn('b', range(64, 200), 5);
  m.pinConversation('a');
  m.beginRequest('r', [...range(64, 200), 1], 'b');
  assert.equal(m.swapOutAhead(1, 8), 0);
  assert.deepEqual(m.conversation('a')!.host, [-1, -1]);
  m.beginRequest('s', range(64, 300));
  assert.equal(m.allocateSlots('s', 64), null, 'nothing is evictable');
  assert.deepEqual(m.conversation('a')!.chunks, ['device', 'device']);
});

test('retention value evicts cheap leading chunks of a recent conversation before costly late chunks of an older one', () => {
  // Cost grows steeply with context: chunk 3 of `long` (l = 96) costs 25x chunk 0.
  const cost = (l: number) => 1 + l / 4;
  for (const [policy, expectLong] of [
    [new LruPolicy(), ['host', 'host', 'device', 'device']],
    [new RetentionPolicy(cost), ['host', 'device', 'device', 'device']],
  ] as const) {
    const { m, turn, clock } = setup(14, { hostChunks: 8, diskChunks: 0 }, policy);
    turn('long', range(128, 100), 0); // 4 chunks, 8 blocks
    turn('short', range(64, 500), 50); // 2 chunks, 4 blocks
    clock.now = 60;
    m.beginRequest('x', range(96, 900));
    assert.ok(m.allocateSlots('x', 96)); // 6 blocks: 2 free, 2 chunks (4 blocks) must go
    assert.deepEqual(m.conversation('long')!.chunks, expectLong, policy.name);
    // LRU takes the long conversation's second chunk (l = 32, idle 60 ms); retention takes
    // the short one's first (l = 0, idle 10 ms): V = 1 / 10 < 9 / 60.
    assert.deepEqual(m.conversation('short')!.chunks, policy.name === 'lru' ? ['device', 'device'] : ['host', 'device']);
  }
});

test('a lost copy is forgotten; a lost chunk is dropped with every chunk before it', () => {
  const { m, e, turn, check } = setup(6, { hostChunks: 4, diskChunks: 4 });
  turn('a', range(96, 100), 0);
  turn('b', range(96, 200), 10); // a's 3 chunks → host
  assert.deepEqual(m.conversation('a')!.chunks, ['host', 'host', 'host']);
  turn('c', range(96, 300), 20); // b → host, a's first chunks → disk
  const a = m.conversation('a')!;
  const lostAt = a.chunks.lastIndexOf('disk');
  assert.ok(lostAt >= 0);
  m.lostChunk('disk', a.disk[lostAt]!);
  e.lower.disk.delete(a.disk[lostAt]!);
  assert.deepEqual(m.conversation('a')!.chunks.slice(0, lostAt + 1), new Array(lostAt + 1).fill('dropped'));
  assert.equal(m.stats().tiers.lostChunks, 1);
  check();
});

test('chunk files found at start-up serve any prompt with their tokens, whichever conversation wrote them', () => {
  const salt = 'tiers';
  const history = range(80, 100); // chunks of 32, 32, 16 tokens
  const chain = hashChain(history, 16, salt);
  const persisted = (conv: string, c: number, n: number, slot: number, tokens = history) => ({
    conversationId: conv,
    chunkIndex: c,
    slot,
    numTokens: n,
    tokenHash: prefixHash(tokens, c * 32 + n, hashChain(tokens, 16, salt), 16, salt),
    lastAccess: 5,
  });
  const { m, e, check } = setup(16, { hostChunks: 0, diskChunks: 8 });
  const refused = m.adoptPersisted([
    persisted('a', 1, 32, 0), persisted('a', 2, 16, 1), // a's chunk 0 was dropped before the restart
    persisted('b', 0, 32, 2), // b shares a's first chunk
    persisted('b', 0, 32, 3), // a second file of the same chunk
    persisted('c', 0, 32, 9, range(32, 3)), // past the tier's capacity
    persisted('d', 0, 32, 4, range(32, 7)), // another history
  ]);
  assert.deepEqual(refused.map((p) => `${p.conversationId}:${p.slot}`), ['b:3', 'c:9']);
  assert.equal(chain.length, 5);
  for (const p of [0, 1, 2, 4]) e.lower.disk.set(p, []); // the files' content is not checked here
  assert.equal(m.stats().tiers.persistedChunks, 4);
  // A stateless client with a's history and a new message: the three files with its tokens
  // (b's first chunk among them) become the chain it continues.
  const items = m.prepareRequest(null, [...history, 1, 2, 3], null);
  assert.deepEqual(items.map((it) => [it.chunk, it.tier, it.slot, it.reusedTokens]), [[0, 'disk', 2, 32], [1, 'disk', 0, 32], [2, 'disk', 1, 16]]);
  const attached = m.chainIds().map((id) => m.chain(id)!);
  assert.equal(attached.length, 1);
  assert.deepEqual(attached[0]!.chunks, ['disk', 'disk', 'disk']);
  assert.equal(attached[0]!.lastAccess, 5);
  // Another history matches nothing, and d's file waits for its tokens.
  assert.deepEqual(m.prepareRequest(null, range(40, 500), 'd'), []);
  assert.equal(m.stats().tiers.persistedChunks, 1);
  assert.deepEqual(m.prepareRequest(null, [...range(32, 7), 1], 'd').map((it) => [it.chunk, it.slot]), [[0, 4]]);
  assert.equal(m.stats().tiers.persistedChunks, 0);
  assert.equal(m.conversation('d')!.chunks[0], 'disk', 'd names the chain its file became');
  e.sync();
  for (const [slot] of m.lowerSlots('disk').used()) assert.ok(e.lower.disk.has(slot));
  checkInvariants(m);
  void check;
});
