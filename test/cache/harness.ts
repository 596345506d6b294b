// Test helpers for src/cache: a stand-in for the engine that "computes" KV by writing,
// into a simulated memory, a key naming exactly which token at which position after
// which prefix a slot holds, and a checker of the bookkeeping invariants. Together they
// catch the two ways a KV cache goes wrong: lost accounting and wrong content.
import assert from 'node:assert/strict';
import { NO_SLOT } from '../../src/cache/conversation-state.js';
import { NO_BLOCK } from '../../src/cache/sequence.js';
import type { TierCapacities } from '../../src/cache/chunk-tiers.js';
import { LruPolicy, type EvictionPolicy } from '../../src/cache/eviction-policy.js';
import { KvCacheManager, type ScheduledSlots } from '../../src/cache/kv-cache-manager.js';
import type { LowerTier } from '../../src/cache/tier-slots.js';

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
  /** Lower-tier slot → the keys of its chunk's blocks, block after block. */
  readonly lower: Record<LowerTier, Map<number, (string | undefined)[][]>> = { host: new Map(), disk: new Map() };
  readonly transfers: Record<string, number> = { save: 0, demote: 0, copy: 0, load: 0, release: 0 };

  constructor(readonly m: KvCacheManager) {}

  /** Executes the tier moves the cache decided, in order, as the engine does before a forward pass. */
  sync(): void {
    const bs = this.m.blockSize;
    for (const t of this.m.takeTransfers()) {
      this.transfers[t.op]!++;
      if (t.op === 'save') {
        assert.ok(!this.lower[t.to].has(t.slot), `save into occupied ${t.to} slot ${t.slot}`);
        this.lower[t.to].set(t.slot, t.blocks.map((id) => Array.from({ length: bs }, (_, o) => this.memory.get(id * bs + o))));
      } else if (t.op === 'demote' || t.op === 'copy') {
        const data = this.lower.host.get(t.hostSlot);
        assert.ok(data, `${t.op} from empty host slot ${t.hostSlot}`);
        assert.ok(!this.lower.disk.has(t.slot), `${t.op} into occupied disk slot ${t.slot}`);
        if (t.op === 'demote') this.lower.host.delete(t.hostSlot);
        this.lower.disk.set(t.slot, data);
      } else if (t.op === 'load') {
        const data = this.lower[t.from].get(t.slot);
        assert.ok(data, `load from empty ${t.from} slot ${t.slot}`);
        assert.ok(data.length >= t.blocks.length, 'load of more blocks than were saved');
        t.blocks.forEach((id, i) => data[i]!.forEach((key, o) => (key === undefined ? this.memory.delete(id * bs + o) : this.memory.set(id * bs + o, key))));
      } else {
        this.lower[t.tier].delete(t.slot);
      }
    }
  }

  /** One step of `n` tokens for a request: allocate, write, mark computed. */
  step(requestId: string, n: number): ScheduledSlots | null {
    const slots = this.m.allocateSlots(requestId, n);
    this.sync();
    if (slots === null) return null;
    const keys = prefixKeys(this.m.sequence(requestId)!.tokens);
    const bs = this.m.blockSize;
    slots.positions.forEach((p) => this.memory.set(slots.blockTable[Math.floor(p / bs)]! * bs + (p % bs), keys[p]!));
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
    for (const cid of this.m.chainIds()) {
      const c = this.m.chain(cid)!;
      check(`conversation ${cid}`, c.tokens, c.blocks, (p) => c.blocks[Math.floor(p / bs)] !== NO_BLOCK);
      // Every lower-tier slot, chunk or copy, holds the KV of the chunk's tokens.
      const keys = prefixKeys(c.tokens);
      const cs = this.m.chunkSize;
      for (const tier of ['host', 'disk'] as const) {
        c[tier].forEach((slot, ci) => {
          if (slot === NO_SLOT) return;
          const data = this.lower[tier].get(slot);
          assert.ok(data, `conversation ${cid} chunk ${ci}: ${tier} slot ${slot} holds nothing`);
          for (let p = ci * cs; p < Math.min((ci + 1) * cs, c.tokens.length); p++) {
            const off = p - ci * cs;
            assert.equal(data[Math.floor(off / bs)]?.[off % bs], keys[p], `conversation ${cid}: wrong ${tier} KV at position ${p}`);
          }
        });
      }
    }
  }
}

/** The bookkeeping invariants of the pool, the requests and the conversations. */
export function checkInvariants(m: KvCacheManager): void {
  const pool = m.blocks;
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
  for (const cid of m.chainIds()) {
    const c = m.chain(cid)!;
    assert.equal(c.blocks.length, Math.ceil(c.tokens.length / bs), `conversation ${cid} block table length`);
    assert.equal(c.chunks.length, Math.ceil(c.tokens.length / m.chunkSize), `conversation ${cid} chunk count`);
    const perChunk = m.chunkSize / bs;
    let seenDevice = false;
    assert.equal(c.host.length, c.chunks.length, `conversation ${cid} host slots`);
    assert.equal(c.disk.length, c.chunks.length, `conversation ${cid} disk slots`);
    let seenLower = false;
    c.chunks.forEach((tier, ci) => {
      const blocks = c.blocks.slice(ci * perChunk, (ci + 1) * perChunk);
      const [host, disk] = [c.host[ci]!, c.disk[ci]!];
      if (tier === 'device') {
        seenDevice = true;
        assert.ok(blocks.every((id) => id !== NO_BLOCK), `conversation ${cid} chunk ${ci} is device with a missing block`);
      } else {
        assert.ok(!seenDevice, `conversation ${cid}: ${tier} chunk ${ci} after a device chunk`);
        assert.ok(blocks.every((id) => id === NO_BLOCK), `conversation ${cid} chunk ${ci} is ${tier} but holds a block`);
      }
      if (tier === 'host') assert.notEqual(host, NO_SLOT, `conversation ${cid} chunk ${ci} is host without a host slot`);
      if (tier === 'disk') {
        assert.notEqual(disk, NO_SLOT, `conversation ${cid} chunk ${ci} is disk without a disk slot`);
        assert.equal(host, NO_SLOT, `conversation ${cid} chunk ${ci} is disk but has a host slot`);
      }
      if (tier === 'host' || tier === 'disk') seenLower = true;
      if (tier === 'dropped') {
        assert.ok(!seenLower, `conversation ${cid}: dropped chunk ${ci} after a lower-tier chunk`);
        if (c.owner === null) assert.ok(host === NO_SLOT && disk === NO_SLOT, `conversation ${cid} chunk ${ci} is dropped but holds a slot`);
      }
      for (const [tier2, slot] of [['host', host], ['disk', disk]] as const) {
        if (slot === NO_SLOT) continue;
        const owner = m.lowerSlots(tier2).ownerOf(slot);
        assert.ok(owner && owner.conversationId === cid && owner.chunk === ci && !owner.persisted, `${tier2} slot ${slot} is not owned by ${cid}:${ci}`);
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
  if (m.mode !== 'pensieve') assert.equal(m.chainIds().length, 0, `${m.mode} mode keeps conversations`);
  for (const name of m.conversationIds()) assert.ok(m.conversation(name), `name ${name} points at no chain`);
  // Every used lower-tier slot belongs to the chunk that names it (or waits as a persisted chunk).
  for (const tier of ['host', 'disk'] as const) {
    const slots = m.lowerSlots(tier);
    let used = 0;
    for (const [slot, owner] of slots.used()) {
      used++;
      if (owner.persisted) continue;
      const c = m.chain(owner.conversationId);
      assert.ok(c, `${tier} slot ${slot} owned by missing conversation ${owner.conversationId}`);
      assert.equal(c[tier][owner.chunk], slot, `${tier} slot ${slot} is not in ${owner.conversationId}:${owner.chunk}`);
    }
    assert.equal(used, slots.numUsed);
    assert.ok(used <= slots.capacity, `${tier} over capacity`);
  }
}

/**
 * A pensieve-mode manager with lower tiers on a clock the test moves, its FakeEngine, and the
 * check each turn ends with (the engine synced, the invariants, the content).
 */
export function tieredCache(salt: string, numBlocks: number, tiers: TierCapacities, policy: EvictionPolicy = new LruPolicy()) {
  const clock = { now: 0 };
  const m = new KvCacheManager({ numBlocks, mode: 'pensieve', salt, clock: () => clock.now, tiers, policy });
  const e = new FakeEngine(m);
  const check = () => {
    e.sync();
    checkInvariants(m);
    e.verifyContent();
  };
  return { m, e, clock, check };
}
