// Where idle conversations' chunks live below the device, and every move between tiers:
// eviction into the next tier (device → host → disk → dropped, lowest retention value
// first in each tier), ahead-of-time copies that make a later eviction free, swap-in
// of a returning conversation, and chunks found on disk after a restart. Bookkeeping
// only: each move is appended to an outbox of ChunkTransfers that the engine executes
// in order before the next forward pass (src/engine/tiers/).
//
// Capacity rules. A tier holds at most its capacity in chunks, counting copies: a
// device chunk with an ahead-of-time host copy takes a device slot's blocks and a host
// slot. Copies are released first when they are the cheapest entry of their tier, and
// releasing one costs nothing. A chunk that cannot go down (the next tiers are full of
// chunks of running or queued requests, or disabled) is dropped, and with it every
// chunk before it: dropped chunks always form a prefix, recomputed in one pass.
import { hashChain, prefixHash } from './block-hash.js';
import type { BlockPool } from './block-pool.js';
import type { ChunkMeta, ChunkTransfer } from './chunk-transfer.js';
import { ConversationState, NO_SLOT, type ChunkTier } from './conversation-state.js';
import { candidateFor, chunkEvictionOrder, evictionOrder, reclaimableBlocks, type ChunkCandidate, type EvictionPolicy } from './eviction-policy.js';
import { NO_BLOCK } from './sequence.js';
import { TierSlots, type LowerTier } from './tier-slots.js';

export interface TierCapacities {
  /** Chunks the host tier holds; 0 disables it. */
  hostChunks: number;
  /** Chunk files the disk tier holds; 0 disables it. */
  diskChunks: number;
}

/** A chunk file found on disk at start-up (see adoptPersisted). */
export interface PersistedChunk {
  conversationId: string;
  chunkIndex: number;
  slot: number;
  numTokens: number;
  tokenHash: string;
  /** Clock time (ms) the conversation was last used when the chunk was written. */
  lastAccess: number;
}

/** A chunk of a conversation to bring back to device before its request runs. */
export interface RestoreItem {
  chunk: number;
  tier: LowerTier;
  slot: number;
  meta: ChunkMeta;
  /** Prompt tokens of this chunk that the request reuses. */
  reusedTokens: number;
}

export interface TierStats {
  hostCapacityChunks: number;
  hostUsedChunks: number;
  /** Of the used host slots, those holding a copy of a chunk that lives on device. */
  hostCopies: number;
  diskCapacityChunks: number;
  diskUsedChunks: number;
  diskCopies: number;
  /** Disk chunks found at start-up and not yet matched to a conversation. */
  persistedChunks: number;
  /** Device → lower tier copies, per tier (ahead-of-time ones included). */
  savedChunks: { host: number; disk: number };
  aheadOfTimeChunks: number;
  /** Device evictions that cost nothing because a copy already existed. */
  reclaimedChunks: number;
  demotedChunks: number;
  loadedChunks: { host: number; disk: number };
  /** Chunks whose KV no tier holds any more. */
  droppedChunks: number;
  /** Chunks lost to an I/O failure or a corrupt file. */
  lostChunks: number;
}

export interface TierContext {
  pool: BlockPool;
  conversations: Map<string, ConversationState>;
  policy: EvictionPolicy;
  clock: () => number;
  salt: string;
  blockSize: number;
  chunkSize: number;
  /** The conversation's record, created if it does not exist. */
  conversationState(id: string, now: number): ConversationState;
}

/**
 * Entries eviction must not touch: all of a conversation's (`from` 0), or its chunks
 * from `from` on that live only in the lower tiers (dropping one of those would drop a
 * chunk that is being moved).
 */
interface Exclusion {
  conv: ConversationState;
  from: number;
}

interface LowerEntry {
  tier: LowerTier;
  conv: ConversationState | null;
  /** Set for a persisted chunk not yet attached. */
  persisted: PersistedChunk | null;
  chunk: number;
  value: number;
}

export class ChunkTiers {
  readonly host: TierSlots;
  readonly disk: TierSlots;
  /** Enabled lower tiers, nearest first. */
  readonly lowerTiers: readonly LowerTier[];
  private outbox: ChunkTransfer[] = [];
  private readonly persisted = new Map<string, Map<number, PersistedChunk>>();
  private readonly counters = {
    savedChunks: { host: 0, disk: 0 },
    aheadOfTimeChunks: 0,
    reclaimedChunks: 0,
    demotedChunks: 0,
    loadedChunks: { host: 0, disk: 0 },
    droppedChunks: 0,
    lostChunks: 0,
  };
  /** Device chunk evictions (to a lower tier or dropped). */
  evictedChunks = 0;

  constructor(private readonly ctx: TierContext, capacities: TierCapacities) {
    this.host = new TierSlots('host', capacities.hostChunks);
    this.disk = new TierSlots('disk', capacities.diskChunks);
    this.lowerTiers = (['host', 'disk'] as const).filter((t) => this.slotsOf(t).capacity > 0);
  }

  /** The moves decided since the last call, in the order they must run. */
  takeTransfers(): ChunkTransfer[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  slotsOf(tier: LowerTier): TierSlots {
    return tier === 'host' ? this.host : this.disk;
  }

  /**
   * Makes `need` device blocks free by moving idle conversations' chunks down a tier (or
   * dropping them), lowest retention value first; all or nothing. `exclude` is never
   * touched (a conversation being restored).
   */
  ensureFree(need: number, exclude: readonly Exclusion[] = []): boolean {
    const { pool } = this.ctx;
    if (pool.numFree >= need) return true;
    const convs = [...this.ctx.conversations.values()].filter((c) => !exclude.some((x) => x.conv === c));
    if (pool.numFree + reclaimableBlocks(convs, pool) < need) return false;
    for (const { conv, chunk } of evictionOrder(convs, this.ctx.policy, this.ctx.clock())) {
      this.evictDeviceChunk(conv, chunk, exclude);
      if (pool.numFree >= need) return true;
    }
    return pool.numFree >= need;
  }

  /**
   * Ahead-of-time swap-out (the paper's §4.3): while the device blocks that are free, or
   * free for the asking because their chunk has a lower copy, fall short of
   * `threshold` of the pool, copies the lowest-value idle device chunks to the nearest
   * lower tier, at most `maxChunks` per call. Only displaces lower-tier entries of lower
   * value than the chunk copied. Returns the number of chunks copied.
   */
  swapOutAhead(threshold: number, maxChunks: number): number {
    const tier = this.lowerTiers[0];
    if (tier === undefined || maxChunks <= 0) return 0;
    const { pool, policy } = this.ctx;
    const target = Math.ceil(threshold * pool.numBlocks);
    let available = pool.numFree + this.freeForTheAsking();
    if (available >= target) return 0;
    const now = this.ctx.clock();
    const idle = [...this.ctx.conversations.values()].filter((c) => c.idle);
    const firstUncopied = (conv: ConversationState): ChunkCandidate | null => {
      if (!conv.idle) return null;
      for (let c = conv.leadingDeviceChunk(); c >= 0 && c < conv.chunks.length; c++) {
        if (conv.host[c] === NO_SLOT && conv.disk[c] === NO_SLOT) return candidateFor(conv, c, now);
      }
      return null;
    };
    let copied = 0;
    for (const { source: conv, candidate } of chunkEvictionOrder(idle, firstUncopied, policy)) {
      if (copied >= maxChunks || available >= target) break;
      const c = candidate.chunkIndex;
      const slot = this.obtainSlot(tier, conv, c, [], policy.retentionValue(candidate));
      if (slot === null) break; // everything below is worth more
      const blocks = conv.deviceBlocksOf(c);
      this.outbox.push({ op: 'save', blocks, to: tier, slot, chunk: this.meta(conv, c) });
      conv.slots(tier)[c] = slot;
      this.counters.savedChunks[tier]++;
      this.counters.aheadOfTimeChunks++;
      available += blocks.filter((id) => pool.refCount(id) === 1).length;
      copied++;
    }
    return copied;
  }

  /**
   * Before a shutdown: copies idle conversations' device and host chunks that have no disk
   * copy to disk, most valuable first, as far as the disk holds them (displacing only
   * entries of lower value), so that a restart finds them. Returns the chunks copied.
   */
  persistAll(): number {
    if (this.disk.capacity === 0) return 0;
    const now = this.ctx.clock();
    const { policy } = this.ctx;
    const wanted: { conv: ConversationState; c: number; value: number }[] = [];
    for (const conv of this.ctx.conversations.values()) {
      if (conv.owner !== null) continue;
      conv.chunks.forEach((t, c) => {
        if ((t === 'device' || t === 'host') && conv.disk[c] === NO_SLOT) wanted.push({ conv, c, value: policy.retentionValue(candidateFor(conv, c, now)!) });
      });
    }
    wanted.sort((a, b) => b.value - a.value);
    let copied = 0;
    for (const { conv, c, value } of wanted) {
      if (conv.chunks[c] !== 'device' && conv.chunks[c] !== 'host') continue; // dropped meanwhile
      const slot = this.obtainSlot('disk', conv, c, [], value);
      if (slot === null) break; // the disk is full of chunks worth more
      const meta = this.meta(conv, c);
      if (conv.chunks[c] === 'device') this.outbox.push({ op: 'save', blocks: conv.deviceBlocksOf(c), to: 'disk', slot, chunk: meta });
      else this.outbox.push({ op: 'copy', hostSlot: conv.host[c]!, slot, chunk: meta });
      conv.disk[c] = slot;
      this.counters.savedChunks.disk++;
      copied++;
    }
    return copied;
  }

  /** Lower-tier chunks of `conv` inside the first `lcp` tokens: what a request reusing them must swap in. */
  planRestore(conv: ConversationState, lcp: number): RestoreItem[] {
    const items: RestoreItem[] = [];
    const cs = this.ctx.chunkSize;
    for (let c = 0; c * cs < lcp && c < conv.chunks.length; c++) {
      const tier = conv.chunks[c]!;
      if (tier !== 'host' && tier !== 'disk') continue;
      items.push({ chunk: c, tier, slot: conv.slots(tier)[c]!, meta: this.meta(conv, c), reusedTokens: Math.min(lcp, (c + 1) * cs) - c * cs });
    }
    return items;
  }

  /**
   * Brings `items` of an idle conversation back to device (swap-in), evicting others as
   * needed; the lower slots stay as copies. A block whose content is still findable by
   * hash is revived instead of copied. All or nothing: false when the blocks do not fit.
   */
  restore(conv: ConversationState, items: readonly RestoreItem[]): boolean {
    if (conv.owner !== null) throw new Error(`conversation ${conv.id} is in use by ${conv.owner}`);
    const { pool } = this.ctx;
    const ranges = items.map((it) => conv.chunkBlocks(it.chunk));
    const need = ranges.reduce((n, r) => n + r.end - r.first, 0);
    if (!this.ensureFree(need, [{ conv, from: 0 }])) return false;
    // Revive first: allocating could hand out the very free blocks that hold the content.
    const copy: number[] = [];
    items.forEach((it, i) => {
      const { first, end } = ranges[i]!;
      const found: number[] = [];
      for (let b = first; b < end && b < conv.hashes.length; b++) {
        const id = pool.lookup(conv.hashes[b]!);
        if (id === undefined) break;
        found.push(id);
      }
      if (found.length < end - first) return void copy.push(i);
      pool.touch(found);
      found.forEach((id, k) => (conv.blocks[first + k] = id));
      conv.chunks[it.chunk] = 'device';
    });
    for (const i of copy) {
      const it = items[i]!;
      const { first, end } = ranges[i]!;
      const ids = pool.allocate(end - first);
      if (ids === null) throw new Error(`restore of ${conv.id} could not get the blocks it made free`);
      ids.forEach((id, k) => (conv.blocks[first + k] = id));
      this.outbox.push({ op: 'load', from: it.tier, slot: it.slot, blocks: ids, chunk: it.meta });
      conv.chunks[it.chunk] = 'device';
      this.counters.loadedChunks[it.tier]++;
    }
    return true;
  }

  /**
   * A lower-tier slot's content is gone (a failed write, a corrupt or unreadable file):
   * a copy is forgotten; a chunk that lived only there is dropped with its prefix.
   */
  lostChunk(tier: LowerTier, slot: number): void {
    const slots = this.slotsOf(tier);
    const owner = slots.ownerOf(slot);
    if (owner === null) return;
    this.counters.lostChunks++;
    if (owner.persisted) {
      this.persisted.get(owner.conversationId)?.delete(owner.chunk);
      this.release(tier, slot);
      return;
    }
    const conv = this.ctx.conversations.get(owner.conversationId);
    if (conv === undefined || conv.slots(tier)[owner.chunk] !== slot) throw new Error(`${tier} slot ${slot} has no owner chunk`);
    if (conv.isCopy(tier, owner.chunk)) {
      conv.slots(tier)[owner.chunk] = NO_SLOT;
      this.release(tier, slot);
    } else {
      this.dropPrefix(conv, owner.chunk);
    }
  }

  /**
   * Claims the disk slots of chunk files found at start-up. They wait, unattached, for
   * a request of their conversation whose prompt hashes to the same tokens (attach).
   * Returns the ones refused (slot out of range or taken, duplicate chunk, tier off).
   */
  adoptPersisted(chunks: readonly PersistedChunk[]): PersistedChunk[] {
    const refused: PersistedChunk[] = [];
    for (const p of chunks) {
      let byChunk = this.persisted.get(p.conversationId);
      if (byChunk?.has(p.chunkIndex) || !this.disk.adopt(p.slot, { conversationId: p.conversationId, chunk: p.chunkIndex, persisted: true })) {
        refused.push(p);
        continue;
      }
      if (byChunk === undefined) this.persisted.set(p.conversationId, (byChunk = new Map()));
      byChunk.set(p.chunkIndex, p);
    }
    return refused;
  }

  /**
   * Matches the persisted chunks of a conversation that has no history against the
   * prompt of its returning request: the longest run of chunks whose token hashes match
   * the prompt, ending at the last match, becomes the history's [dropped | disk] layout.
   * Chunks that do not match are released (their files were another history's).
   */
  attachPersisted(conversationId: string, prompt: readonly number[]): void {
    const byChunk = this.persisted.get(conversationId);
    if (byChunk === undefined) return;
    this.persisted.delete(conversationId);
    const { blockSize: bs, chunkSize: cs, salt } = this.ctx;
    const now = this.ctx.clock();
    const conv = this.ctx.conversationState(conversationId, now);
    const entries = [...byChunk.values()].sort((a, b) => a.chunkIndex - b.chunkIndex);
    const releaseAll = (keep: Set<PersistedChunk>) => {
      for (const p of entries) if (!keep.has(p)) this.release('disk', p.slot);
    };
    if (conv.tokens.length > 0 || conv.owner !== null) return releaseAll(new Set());
    const maxEnd = Math.min(prompt.length, Math.max(...entries.map((p) => p.chunkIndex * cs + p.numTokens)));
    const chain = hashChain(prompt.slice(0, maxEnd), bs, salt);
    const matches = (p: PersistedChunk): boolean => {
      const end = p.chunkIndex * cs + p.numTokens;
      return p.numTokens > 0 && p.numTokens <= cs && end <= prompt.length && prefixHash(prompt, end, chain, bs, salt) === p.tokenHash;
    };
    let last: PersistedChunk | undefined;
    for (let i = entries.length - 1; i >= 0 && last === undefined; i--) if (matches(entries[i]!)) last = entries[i];
    if (last === undefined) return releaseAll(new Set());
    const run = [last];
    for (let c = last.chunkIndex - 1; c >= 0; c--) {
      const p = byChunk.get(c);
      if (p === undefined || p.numTokens !== cs || !matches(p)) break;
      run.unshift(p);
    }
    releaseAll(new Set(run));
    const end = last.chunkIndex * cs + last.numTokens;
    const tokens = prompt.slice(0, end);
    const numChunks = last.chunkIndex + 1;
    conv.retain(tokens, new Array<number>(Math.ceil(end / bs)).fill(NO_BLOCK), chain.slice(0, Math.floor(end / bs)), numChunks, now);
    conv.lastAccess = Math.max(...run.map((p) => p.lastAccess));
    for (const p of run) {
      conv.chunks[p.chunkIndex] = 'disk';
      conv.disk[p.chunkIndex] = p.slot;
      this.disk.reassign(p.slot, { conversationId, chunk: p.chunkIndex });
    }
  }

  /** Persisted chunks still waiting for their conversation. */
  get numPersisted(): number {
    let n = 0;
    for (const m of this.persisted.values()) n += m.size;
    return n;
  }

  /** Releases the slots a conversation no longer needs. */
  releaseSlots(slots: readonly { tier: LowerTier; slot: number }[]): void {
    for (const { tier, slot } of slots) this.release(tier, slot);
  }

  /**
   * Gives a conversation its lower-tier copies back after a request ran on it: a copy
   * stays where its chunk is on device again; the others are released.
   */
  reattachCopies(conv: ConversationState, copies: { host: number[]; disk: number[] }): void {
    for (const tier of ['host', 'disk'] as const) {
      copies[tier].forEach((slot, c) => {
        if (slot === NO_SLOT) return;
        if (conv.chunks[c] === 'device') conv.slots(tier)[c] = slot;
        else this.release(tier, slot);
      });
    }
  }

  stats(): TierStats {
    let hostCopies = 0;
    let diskCopies = 0;
    for (const conv of this.ctx.conversations.values()) {
      conv.host.forEach((s, c) => s !== NO_SLOT && conv.isCopy('host', c) && hostCopies++);
      conv.disk.forEach((s, c) => s !== NO_SLOT && conv.isCopy('disk', c) && diskCopies++);
    }
    return {
      hostCapacityChunks: this.host.capacity,
      hostUsedChunks: this.host.numUsed,
      hostCopies,
      diskCapacityChunks: this.disk.capacity,
      diskUsedChunks: this.disk.numUsed,
      diskCopies,
      persistedChunks: this.numPersisted,
      savedChunks: { ...this.counters.savedChunks },
      aheadOfTimeChunks: this.counters.aheadOfTimeChunks,
      reclaimedChunks: this.counters.reclaimedChunks,
      demotedChunks: this.counters.demotedChunks,
      loadedChunks: { ...this.counters.loadedChunks },
      droppedChunks: this.counters.droppedChunks,
      lostChunks: this.counters.lostChunks,
    };
  }

  /** The identity of chunk `c`'s content, as a disk file records it. */
  meta(conv: ConversationState, c: number): ChunkMeta {
    const { blockSize, salt } = this.ctx;
    const numTokens = conv.chunkLength(c);
    const end = conv.contextLengthBefore(c) + numTokens;
    return { conversationId: conv.id, chunkIndex: c, numTokens, tokenHash: prefixHash(conv.tokens, end, conv.hashes, blockSize, salt), lastAccess: conv.lastAccess };
  }

  /** Device chunk `c` (the conversation's leading one) leaves the device. */
  private evictDeviceChunk(conv: ConversationState, c: number, exclude: readonly Exclusion[]): void {
    const blocks = conv.deviceBlocksOf(c);
    let tier: ChunkTier = 'dropped';
    if (conv.host[c] !== NO_SLOT) tier = 'host';
    else if (conv.disk[c] !== NO_SLOT) tier = 'disk';
    if (tier !== 'dropped') {
      this.counters.reclaimedChunks++;
    } else {
      for (const t of this.lowerTiers) {
        const slot = this.obtainSlot(t, conv, c, exclude, Infinity);
        if (slot === null) continue;
        this.outbox.push({ op: 'save', blocks, to: t, slot, chunk: this.meta(conv, c) });
        conv.slots(t)[c] = slot;
        this.counters.savedChunks[t]++;
        tier = t;
        break;
      }
    }
    conv.releaseDeviceBlocks(c);
    conv.chunks[c] = tier;
    if (tier === 'dropped') {
      this.counters.droppedChunks++;
      this.dropPrefix(conv, c - 1);
    }
    // Tail block first into the free queue, so the leading one stays findable longer.
    this.ctx.pool.free([...blocks].reverse());
    this.evictedChunks++;
  }

  /**
   * A free slot of `tier` for chunk `c` of `conv`, making room by evicting the tier's
   * lowest-value entry if its value is below `maxValue`. Null when the tier is full of
   * entries that may not move or are worth more.
   */
  private obtainSlot(tier: LowerTier, conv: ConversationState, c: number, exclude: readonly Exclusion[], maxValue: number): number | null {
    const slots = this.slotsOf(tier);
    const owner = { conversationId: conv.id, chunk: c };
    const slot = slots.allocate(owner);
    if (slot !== null || slots.capacity === 0) return slot;
    const victim = this.cheapestEntry(tier, exclude);
    if (victim === null || victim.value >= maxValue) return null;
    this.evictLowerEntry(victim, exclude);
    return slots.allocate(owner);
  }

  /** The lowest-value entry of a lower tier that may leave it. */
  private cheapestEntry(tier: LowerTier, exclude: readonly Exclusion[]): LowerEntry | null {
    const { policy, chunkSize } = this.ctx;
    const now = this.ctx.clock();
    let best: LowerEntry | null = null;
    for (const conv of this.ctx.conversations.values()) {
      const from = Math.min(...exclude.filter((x) => x.conv === conv).map((x) => x.from));
      if (from === 0) continue;
      const slots = conv.slots(tier);
      // Its leading entry that may go: any copy, or a chunk of an idle conversation.
      let c = 0;
      while (c < slots.length && (slots[c] === NO_SLOT || !(conv.idle || conv.isCopy(tier, c)))) c++;
      if (c >= slots.length || (c >= from && !conv.isCopy(tier, c))) continue;
      const value = policy.retentionValue(candidateFor(conv, c, now)!);
      if (best === null || value < best.value) best = { tier, conv, persisted: null, chunk: c, value };
    }
    if (tier === 'disk') {
      for (const byChunk of this.persisted.values()) {
        for (const p of byChunk.values()) {
          const value = policy.retentionValue({
            conversationId: p.conversationId,
            chunkIndex: p.chunkIndex,
            contextLength: p.chunkIndex * chunkSize,
            numTokens: p.numTokens,
            idleMs: Math.max(0, now - p.lastAccess),
          });
          if (best === null || value < best.value) best = { tier, conv: null, persisted: p, chunk: p.chunkIndex, value };
        }
      }
    }
    return best;
  }

  /** Frees the entry's slot: a copy is forgotten, a host chunk goes to disk, a disk chunk is dropped. */
  private evictLowerEntry(e: LowerEntry, exclude: readonly Exclusion[]): void {
    if (e.persisted !== null) {
      this.persisted.get(e.persisted.conversationId)!.delete(e.chunk);
      this.release('disk', e.persisted.slot);
      this.counters.droppedChunks++;
      return;
    }
    const conv = e.conv!;
    const c = e.chunk;
    const slot = conv.slots(e.tier)[c]!;
    if (conv.isCopy(e.tier, c)) {
      conv.slots(e.tier)[c] = NO_SLOT;
      this.release(e.tier, slot);
      return;
    }
    if (e.tier === 'host') {
      if (conv.disk[c] !== NO_SLOT) {
        conv.host[c] = NO_SLOT;
        this.release('host', slot);
        conv.chunks[c] = 'disk';
        return;
      }
      // Dropping one of the conversation's disk chunks after c would drop c too, in the
      // middle of its move: those may not make room.
      const d = this.disk.capacity > 0 ? this.obtainSlot('disk', conv, c, [...exclude, { conv, from: c }], Infinity) : null;
      if (d !== null) {
        this.outbox.push({ op: 'demote', hostSlot: slot, slot: d, chunk: this.meta(conv, c) });
        conv.disk[c] = d;
        conv.host[c] = NO_SLOT;
        this.host.release(slot);
        conv.chunks[c] = 'disk';
        this.counters.demotedChunks++;
        return;
      }
    }
    this.dropPrefix(conv, c);
  }

  /** Drops chunks [0, c] of a conversation: no tier keeps them. */
  private dropPrefix(conv: ConversationState, c: number): void {
    for (let i = 0; i <= c; i++) {
      if (conv.chunks[i] === 'device') throw new Error(`conversation ${conv.id}: dropping chunk ${c} would drop device chunk ${i}`);
      for (const tier of ['host', 'disk'] as const) {
        const slot = conv.slots(tier)[i]!;
        if (slot === NO_SLOT) continue;
        conv.slots(tier)[i] = NO_SLOT;
        this.release(tier, slot);
      }
      if (conv.chunks[i] !== 'dropped') this.counters.droppedChunks++;
      conv.chunks[i] = 'dropped';
    }
  }

  /** Device blocks of idle chunks that hold a lower copy and no other holder: free for the asking. */
  private freeForTheAsking(): number {
    const { pool } = this.ctx;
    let n = 0;
    for (const conv of this.ctx.conversations.values()) {
      if (!conv.idle) continue;
      conv.chunks.forEach((t, c) => {
        if (t !== 'device' || (conv.host[c] === NO_SLOT && conv.disk[c] === NO_SLOT)) return;
        for (const id of conv.deviceBlocksOf(c)) if (pool.refCount(id) === 1) n++;
      });
    }
    return n;
  }

  private release(tier: LowerTier, slot: number): void {
    this.slotsOf(tier).release(slot);
    this.outbox.push({ op: 'release', tier, slot });
  }
}
