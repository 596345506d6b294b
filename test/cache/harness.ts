// Test helpers for src/cache: a stand-in for the engine that "computes" KV by writing,
// into a simulated memory, a key naming exactly which token at which position after
// which prefix a slot holds, and a checker of the bookkeeping invariants. Together they
// catch the two ways a KV cache goes wrong: lost accounting and wrong content.
import assert from 'node:assert/strict';
import { NO_BLOCK } from '../../src/cache/sequence.js';
import type { KvCacheManager, ScheduledSlots } from '../../src/cache/kv-cache-manager.js';

/** Per position, a key for "this token here, after exactly these tokens". */
export function prefixKeys(tokens: readonly number[]): string[] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  return tokens.map((t, p) => {
    a = Math.imul(a ^ t, 0x01000193) >>> 0;
    b = Math.imul(b ^ (t * 31 + 7), 0x5bd1e995) >>> 0;
    return `${p}:${a.toString(36)}:${b.toString(36)}`;
  });
}

export class FakeEngine {
  /** slot → key of the KV written there. */
  readonly memory = new Map<number, string>();

  constructor(readonly m: KvCacheManager) {}

  /** One step of `n` tokens for a request: allocate, write, mark computed. */
  step(requestId: string, n: number): ScheduledSlots | null {
    const slots = this.m.allocateSlots(requestId, n);
    if (slots === null) return null;
    const keys = prefixKeys(this.m.sequence(requestId)!.tokens);
    slots.positions.forEach((p, i) => this.memory.set(slots.slotMapping[i]!, keys[p]!));
    this.m.markComputed(requestId, n);
    return slots;
  }

  /** Computes everything pending (a whole prefill). */
  prefill(requestId: string): ScheduledSlots {
    const s = this.step(requestId, this.m.sequence(requestId)!.numPending);
    assert.ok(s, `prefill of ${requestId} did not fit`);
    return s;
  }

  /** Decodes `tokens`: each is appended, and all but the last get their KV computed. */
  decode(requestId: string, tokens: readonly number[]): void {
    tokens.forEach((t, i) => {
      this.m.appendToken(requestId, t);
      if (i < tokens.length - 1) assert.ok(this.step(requestId, 1), `decode of ${requestId} did not fit`);
    });
  }

  /** Every computed position reads back the KV of its own token and prefix. */
  verifyContent(): void {
    const bs = this.m.blockSize;
    const check = (owner: string, tokens: readonly number[], table: readonly number[], computed: (p: number) => boolean) => {
      const keys = prefixKeys(tokens);
      for (let p = 0; p < tokens.length; p++) {
        if (!computed(p)) continue;
        const id = table[Math.floor(p / bs)] ?? NO_BLOCK;
        assert.notEqual(id, NO_BLOCK, `${owner}: position ${p} is computed but has no block`);
        assert.equal(this.memory.get(id * bs + (p % bs)), keys[p], `${owner}: wrong KV at position ${p}`);
      }
    };
    for (const rid of this.m.requestIds()) {
      const seq = this.m.sequence(rid)!;
      const pending = seq.pendingRanges();
      check(`request ${rid}`, seq.tokens, seq.blockTable, (p) => !pending.some((r) => r.start <= p && p < r.end));
    }
    for (const cid of this.m.conversationIds()) {
      const c = this.m.conversation(cid)!;
      check(`conversation ${cid}`, c.tokens, c.blocks, (p) => c.blocks[Math.floor(p / bs)] !== NO_BLOCK);
    }
  }
}

/** The bookkeeping invariants of the pool, the requests and the conversations. */
export function checkInvariants(m: KvCacheManager): void {
  const pool = m.pool;
  const bs = m.blockSize;
  const holders = new Int32Array(pool.numBlocks);
  const hold = (owner: string, table: readonly number[]) => {
    const seen = new Set<number>();
    for (const id of table) {
      if (id === NO_BLOCK) continue;
      assert.ok(!seen.has(id), `${owner} holds block ${id} twice`);
      seen.add(id);
      holders[id]!++;
    }
  };
  for (const rid of m.requestIds()) hold(`request ${rid}`, m.sequence(rid)!.blockTable);
  for (const cid of m.conversationIds()) {
    const c = m.conversation(cid)!;
    assert.equal(c.blocks.length, Math.ceil(c.tokens.length / bs), `conversation ${cid} block table length`);
    assert.equal(c.chunks.length, Math.ceil(c.tokens.length / m.chunkSize), `conversation ${cid} chunk count`);
    const perChunk = m.chunkSize / bs;
    let seenDevice = false;
    c.chunks.forEach((tier, ci) => {
      const blocks = c.blocks.slice(ci * perChunk, (ci + 1) * perChunk);
      if (tier === 'device') {
        seenDevice = true;
        assert.ok(blocks.every((id) => id !== NO_BLOCK), `conversation ${cid} chunk ${ci} is device with a missing block`);
      } else {
        assert.equal(tier, 'dropped');
        assert.ok(!seenDevice, `conversation ${cid}: dropped chunk ${ci} after a device chunk`);
        assert.ok(blocks.every((id) => id === NO_BLOCK), `conversation ${cid} chunk ${ci} is dropped but holds a block`);
      }
    });
    if (c.owner !== null) assert.ok(c.blocks.every((id) => id === NO_BLOCK), `conversation ${cid} is checked out but holds blocks`);
    hold(`conversation ${cid}`, c.blocks);
  }
  let held = 0;
  let cachedFree = 0;
  for (let id = 0; id < pool.numBlocks; id++) {
    assert.equal(pool.refCount(id), holders[id], `block ${id}: ref count vs holders`);
    if (holders[id]! > 0) held++;
    const h = pool.hashOf(id);
    if (h !== null) {
      assert.equal(pool.lookup(h), id, `block ${id}: its hash finds another block`);
      if (pool.isFree(id)) cachedFree++;
      assert.notEqual(m.mode, 'stateless', 'stateless mode hashed a block');
    }
  }
  const free = [...pool.freeBlockIds()];
  assert.equal(new Set(free).size, free.length, 'a block is twice in the free queue');
  assert.equal(free.length, pool.numFree);
  for (const id of free) assert.equal(holders[id], 0, `block ${id} is both free and held`);
  assert.equal(pool.numFree + held, pool.numBlocks, 'free + used = total');
  assert.equal(pool.numCachedFree, cachedFree);
  if (m.mode !== 'pensieve') assert.equal(m.conversationIds().length, 0, `${m.mode} mode keeps conversations`);
}
