import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvCacheManager, type KvCacheConfig } from '../../src/cache/kv-cache-manager.js';
import { NO_BLOCK } from '../../src/cache/sequence.js';
import { FakeEngine, checkInvariants } from './harness.js';

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function setup(config: Partial<KvCacheConfig> & Pick<KvCacheConfig, 'mode'>) {
  const clock = { now: 0 };
  const m = new KvCacheManager({ numBlocks: 64, salt: 'test-model', clock: () => clock.now, ...config });
  const e = new FakeEngine(m);
  const check = () => {
    checkInvariants(m);
    e.verifyContent();
  };
  return { m, e, clock, check };
}

test('a 5-turn conversation computes only each turn\'s new tokens', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  let transcript: number[] = [];
  let historyLength = 0;
  for (let turn = 0; turn < 5; turn++) {
    const prompt = [...transcript, ...range(7 + turn * 5, 1000 * (turn + 1))];
    const rid = `t${turn}`;
    const match = m.beginRequest(rid, prompt, 'conv');
    // Cached: the previous prompt plus every generated token but the last, which was
    // sampled and never fed back, so it is computed now with the new message.
    assert.equal(match.numCachedTokens, historyLength, `turn ${turn}`);
    assert.deepEqual(match.computeRanges, [{ start: historyLength, end: prompt.length }]);
    assert.equal(match.numRecomputedTokens, 0);
    e.prefill(rid);
    const generated = range(4 + turn, 500 + turn * 10);
    e.decode(rid, generated);
    check();
    const kept = m.finishRequest(rid);
    transcript = [...prompt, ...generated];
    historyLength = transcript.length - 1;
    assert.equal(kept, historyLength);
    assert.deepEqual(m.conversation('conv')!.tokens, transcript.slice(0, historyLength));
    check();
  }
  const s = m.stats();
  assert.equal(s.usedBlocks, Math.ceil(historyLength / 16), 'the conversation keeps exactly its history');
  assert.equal(s.conversationBlocks, s.usedBlocks);
});

test('a history edited inside its chunks becomes a new chain: common full blocks are shared, the old chain stays for whoever continues it', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  const history = range(50, 100);
  m.beginRequest('a', history, 'c');
  e.prefill('a');
  m.finishRequest('a'); // all 50 computed: no token was sampled
  const before = m.conversation('c')!.blocks.slice();
  assert.equal(before.length, 4);
  const edited = [...history.slice(0, 30), ...range(12, 900)];
  const match = m.beginRequest('b', edited, 'c');
  // The edit falls inside the first chunk: the name moves to a new chain, which shares
  // the common full block; the partial one is another chain's, so it is computed afresh.
  assert.equal(match.numCachedTokens, 16);
  assert.deepEqual(match.computeRanges, [{ start: 16, end: 42 }]);
  assert.equal(m.blockTable('b')[0], before[0], 'the common full block is shared');
  assert.notEqual(m.blockTable('b')[1], before[1]);
  const old = m.chain('c')!;
  assert.notEqual(m.conversation('c'), old, 'the name points at the new chain');
  assert.deepEqual(old.blocks, before, 'the old chain keeps its history');
  for (const id of before) assert.equal(m.blocks.hashOf(id) === null, id === before[3], 'its full blocks keep their content');
  check();
  e.prefill('b');
  check();
  m.finishRequest('b');
  assert.deepEqual(m.conversation('c')!.tokens, edited);
  assert.equal(m.blocks.refCount(before[0]!), 2);
  check();
});

test('a divergence on a block boundary reuses whole blocks and finds more in the prefix cache', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  // Another conversation already computed the prompt that conversation c switches to.
  const shared = range(64, 7);
  m.beginRequest('other', shared, 'o');
  e.prefill('other');
  m.finishRequest('other');
  const history = [...shared.slice(0, 32), ...range(30, 300)];
  m.beginRequest('a', history, 'c');
  assert.equal(m.stats().prefixCacheHits, 32, 'first turn of c: the shared 2 blocks come from the prefix cache');
  e.prefill('a');
  m.finishRequest('a');
  const match = m.beginRequest('b', [...shared, 1, 2], 'c');
  assert.equal(match.numCachedTokens, 64);
  assert.deepEqual(match.computeRanges, [{ start: 64, end: 66 }]);
  assert.deepEqual(m.blockTable('b').slice(0, 4), m.conversation('o')!.blocks);
  check();
});

test('two stateless requests with a shared prefix share its full blocks', () => {
  for (const mode of ['prefix', 'pensieve'] as const) {
    const { m, e, check } = setup({ mode });
    const system = range(40, 10);
    m.beginRequest('a', [...system, ...range(5, 90)]);
    e.prefill('a');
    const match = m.beginRequest('b', [...system, ...range(9, 70)]);
    assert.equal(match.numCachedTokens, Math.floor(40 / 16) * 16, mode);
    const a = m.blockTable('a');
    const b = m.blockTable('b');
    assert.deepEqual(b.slice(0, 2), a.slice(0, 2));
    assert.equal(m.blocks.refCount(a[0]!), 2);
    assert.equal(m.blocks.refCount(a[1]!), 2);
    assert.notEqual(b[2], a[2]);
    e.prefill('b');
    check();
    m.finishRequest('a');
    m.finishRequest('b');
    // Pensieve keeps every request's KV as a chain of the store, named or not.
    assert.equal(m.stats().usedBlocks, mode === 'prefix' ? 0 : 3 + 4 - 2, `${mode}: what is retained without a conversation`);
    assert.equal(m.stats().prefixCacheQueries, 45 + 49);
    assert.equal(m.stats().prefixCacheHits, 32);
    check();
    // A third one after both ended revives the freed, still cached blocks (prefix); in
    // pensieve mode it continues a's chain, whose partial block is a's alone.
    assert.equal(m.beginRequest('c', [...system, 1]).numCachedTokens, mode === 'prefix' ? 32 : 40);
    check();
  }
});

test('a prompt that is all cached still computes its last token', () => {
  const { m, e, check } = setup({ mode: 'prefix' });
  m.beginRequest('a', range(32));
  e.prefill('a');
  m.finishRequest('a');
  const match = m.beginRequest('b', range(32));
  assert.equal(match.numCachedTokens, 16, 'the last full block is recomputed, never half-reused');
  assert.deepEqual(match.computeRanges, [{ start: 16, end: 32 }]);
  e.prefill('b');
  check();
});

test('stateless mode never reuses nor hashes anything', () => {
  const { m, e, check } = setup({ mode: 'stateless' });
  m.beginRequest('a', range(40), 'c');
  e.prefill('a');
  m.finishRequest('a');
  const match = m.beginRequest('b', range(40), 'c');
  assert.equal(match.numCachedTokens, 0);
  e.prefill('b');
  check();
  assert.equal(m.conversation('c'), undefined);
  const s = m.stats();
  assert.equal(s.prefixCacheQueries, 0);
  assert.equal(s.cachedFreeBlocks, 0);
});

test('prefix mode keeps no conversation between turns', () => {
  const { m, e, check } = setup({ mode: 'prefix' });
  m.beginRequest('a', range(20), 'c');
  e.prefill('a');
  e.decode('a', [5, 6, 7]);
  m.finishRequest('a');
  assert.equal(m.stats().usedBlocks, 0);
  assert.equal(m.conversation('c'), undefined);
  // Only the full block of the history is found again; its partial tail is recomputed.
  assert.equal(m.beginRequest('b', [...range(20), 5, 6, 7, 8], 'c').numCachedTokens, 16);
  check();
});

test('a shared partial block is copied on write by recompute (branching)', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  m.beginRequest('a', range(40), 'x');
  e.prefill('a');
  m.finishRequest('a');
  assert.ok(m.forkConversation('x', 'y'));
  const last = m.conversation('x')!.blocks[2]!;
  assert.equal(m.blocks.refCount(last), 2);
  check();
  const match = m.beginRequest('b', [...range(40), 77, 78], 'x');
  assert.equal(match.numCachedTokens, 32);
  assert.equal(match.numRecomputedTokens, 8);
  assert.deepEqual(match.computeRanges, [{ start: 32, end: 42 }]);
  assert.equal(m.blocks.refCount(last), 1, 'x let go of the shared block; y still reads it');
  e.prefill('b');
  assert.notEqual(m.blockTable('b')[2], last);
  check();
  // Now y holds it alone and extends it in place.
  const matchY = m.beginRequest('c', [...range(40), 55], 'y');
  assert.equal(matchY.numCachedTokens, 40);
  assert.equal(m.blockTable('c')[2], last);
  e.prefill('c');
  check();
});

test('a boundary block another request reads is not written over', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  const history = range(50, 3);
  m.beginRequest('a', history, 'x');
  e.prefill('a');
  m.finishRequest('a');
  // A stateless client holds the first two blocks through the prefix cache.
  m.beginRequest('s', [...history.slice(0, 32), 1, 2, 3]);
  const shared = m.blockTable('s')[1]!;
  assert.equal(m.blocks.refCount(shared), 2);
  const match = m.beginRequest('b', [...history.slice(0, 20), 9, 9, 9], 'x');
  assert.equal(match.numCachedTokens, 16);
  // A branch inside x's first chunk: a new chain, whose block 1 is its own from the start.
  assert.equal(match.numRecomputedTokens, 0);
  e.prefill('b');
  e.prefill('s');
  check();
  assert.equal(m.blocks.lookup(m.blocks.hashOf(shared)!), shared, 'the shared block keeps its content and hash');
});

test('a second request on a busy conversation uses the prefix cache and does not overwrite it', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  m.beginRequest('a', range(40), 'c');
  e.prefill('a');
  const match = m.beginRequest('b', [...range(40), 1], 'c');
  assert.equal(match.numCachedTokens, 32);
  e.prefill('b');
  check();
  m.finishRequest('a');
  m.finishRequest('b');
  assert.equal(m.conversation('c')!.tokens.length, 40, 'the owner wrote the state back');
  check();
});

test('under pressure idle conversations lose leading chunks, least recently used first', () => {
  // 8 blocks of 16: two conversations of 64 tokens fill the pool.
  const { m, e, clock, check } = setup({ mode: 'pensieve', numBlocks: 8 });
  for (const [i, c] of ['a', 'b'].entries()) {
    clock.now = i * 10;
    m.beginRequest(c, range(64, 100 * (i + 1)), c);
    e.prefill(c);
    m.finishRequest(c);
  }
  assert.equal(m.blocks.numFree, 0);
  clock.now = 20;
  m.beginRequest('s', range(32, 900));
  assert.ok(m.canAllocate('s', 32));
  e.prefill('s');
  assert.deepEqual(m.conversation('a')!.chunks, ['dropped', 'device'], 'a is older: its leading chunk goes');
  assert.deepEqual(m.conversation('b')!.chunks, ['device', 'device']);
  assert.equal(m.stats().evictedChunks, 1);
  check();
  m.finishRequest('s');
  // a returns: its dropped prefix and its new tokens are computed in one pass.
  clock.now = 30;
  const match = m.beginRequest('a2', [...range(64, 100), 1, 2, 3, 4, 5, 6], 'a');
  assert.equal(match.numCachedTokens, 32);
  assert.equal(match.numRecomputedTokens, 32);
  assert.deepEqual(match.computeRanges, [{ start: 0, end: 32 }, { start: 64, end: 70 }]);
  const slots = e.step('a2', 38)!;
  assert.deepEqual(slots.positions, [...range(32), ...range(6, 64)]);
  assert.equal(slots.contextLength, 70);
  // 3 blocks needed, none free: s's request left a chain too (at 20), so b, least recently
  // used, loses both of its chunks.
  assert.deepEqual(m.conversation('b')!.chunks, ['dropped', 'dropped']);
  check();
  m.finishRequest('a2');
  assert.deepEqual(m.conversation('a')!.chunks, ['device', 'device', 'device']);
  assert.equal(m.stats().recomputedTokens, 32);
  check();
});

test('running and queued conversations are never evicted', () => {
  const { m, e, clock, check } = setup({ mode: 'pensieve', numBlocks: 8 });
  m.beginRequest('a', range(64), 'a');
  e.prefill('a');
  m.finishRequest('a');
  clock.now = 5;
  m.beginRequest('b', range(60, 500), 'b'); // runs: holds 4 blocks
  e.prefill('b');
  m.pinConversation('a'); // a request for a waits in the queue
  m.beginRequest('s', range(20, 900));
  assert.equal(m.canAllocate('s', 20), false);
  assert.equal(m.allocateSlots('s', 20), null);
  assert.deepEqual(m.conversation('a')!.chunks, ['device', 'device']);
  assert.equal(m.stats().evictedChunks, 0, 'a failed allocation evicts nothing');
  check();
  m.unpinConversation('a');
  assert.ok(m.allocateSlots('s', 20));
  assert.deepEqual(m.conversation('a')!.chunks, ['dropped', 'device']);
  check();
});

test('preemption gives the blocks back, and the request resumes from what is left', () => {
  const { m, e, check } = setup({ mode: 'prefix', numBlocks: 6 });
  m.beginRequest('a', range(40), null);
  e.prefill('a');
  e.decode('a', [1, 2, 3]);
  const tokens = [...m.sequence('a')!.tokens];
  m.preempt('a');
  assert.equal(m.blocks.numFree, 6);
  assert.equal(m.stats().preemptions, 1);
  check();
  // It had computed every token but the last sampled one; what it computes again of those is recomputed.
  const recomputed0 = m.stats().recomputedTokens;
  const match = m.beginRequest('a', tokens, null, tokens.length - 1);
  assert.equal(match.numCachedTokens, 32, 'its full blocks were still cached');
  assert.deepEqual(match.computeRanges, [{ start: 32, end: tokens.length }]);
  assert.equal(match.numRecomputedTokens, tokens.length - 1 - 32);
  assert.equal(m.stats().recomputedTokens - recomputed0, tokens.length - 1 - 32);
  check();
});

test('in pensieve mode a preempted request leaves its state evictable, leading chunks first', () => {
  const { m, e, check } = setup({ mode: 'pensieve', numBlocks: 6 });
  m.beginRequest('a', range(70), 'c');
  e.prefill('a');
  e.decode('a', [1, 2]);
  const tokens = [...m.sequence('a')!.tokens];
  m.beginRequest('s', range(30, 500));
  assert.equal(m.canAllocate('s', 30), false, 'a runs: nothing can be evicted');
  m.preempt('a');
  assert.ok(m.canAllocate('s', 30));
  assert.ok(e.step('s', 30));
  assert.deepEqual(m.conversation('c')!.chunks, ['dropped', 'device', 'device']);
  check();
  m.finishRequest('s');
  const match = m.beginRequest('a', tokens, 'c', tokens.length - 1);
  // Of the evicted chunk, block 1 went to s; block 0, freed after it, is revived by hash.
  assert.equal(match.numCachedTokens, 71 - 16);
  assert.deepEqual(match.computeRanges, [{ start: 16, end: 32 }, { start: 71, end: 72 }]);
  assert.equal(match.numRecomputedTokens, 16, 'the dropped block, counted once');
  e.prefill('a');
  check();
});

test('dropping a conversation frees its blocks, also after the request it ran ends', () => {
  const { m, e, check } = setup({ mode: 'pensieve' });
  m.beginRequest('a', range(40), 'c');
  e.prefill('a');
  m.finishRequest('a');
  m.dropConversation('c');
  assert.equal(m.blocks.numFree, 64);
  m.beginRequest('b', range(40), 'd');
  e.prefill('b');
  m.dropConversation('d');
  check();
  m.finishRequest('b');
  assert.equal(m.blocks.numFree, 64);
  assert.equal(m.conversation('d'), undefined);
  check();
});

test('a request aborted during recompute keeps a valid [dropped | device] layout', () => {
  const { m, e, clock, check } = setup({ mode: 'pensieve', numBlocks: 8 });
  m.beginRequest('a', range(96), 'c');
  e.prefill('a');
  m.finishRequest('a');
  clock.now = 1;
  m.beginRequest('s', range(72, 500));
  e.prefill('s'); // 5 blocks needed, 2 free: c loses chunks 0 and 1
  m.finishRequest('s');
  assert.deepEqual(m.conversation('c')!.chunks, ['dropped', 'dropped', 'device']);
  const match = m.beginRequest('b', [...range(96), 1, 2, 3], 'c');
  // Block 2 was evicted last and not yet reused: the prefix cache revives it.
  assert.deepEqual(match.computeRanges, [{ start: 0, end: 32 }, { start: 48, end: 64 }, { start: 96, end: 99 }]);
  assert.ok(e.step('b', 40)); // recomputes [0, 32) and [48, 56), then the client goes away
  m.finishRequest('b');
  const c = m.conversation('c')!;
  // Chunk 1 is only partly there, so it and everything before it count as dropped.
  assert.deepEqual(c.chunks, ['dropped', 'dropped', 'device']);
  assert.equal(c.tokens.length, 96);
  assert.ok(c.blocks.slice(0, 4).every((id) => id === NO_BLOCK));
  check();
});
