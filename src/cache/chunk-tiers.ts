// Where idle chains' chunks live below the device, and every move between tiers:
// eviction into the next tier (device → host → disk → dropped, lowest retention value
// first in each tier), ahead-of-time copies that make a later eviction free, swap-in
// of a returning chain, swap-in of chunks other chains (or chunk files found after a
// restart) hold for a prompt with the same tokens, and those files' adoption. Bookkeeping
// only: each move is appended to an outbox of ChunkTransfers that the engine executes
// in order before the next forward pass (src/engine/tiers/).
//
// One store: every slot is indexed by its chunk's key (tier-slots.ts), so a chunk is
// found by any prompt with its tokens. A chain evicting a device chunk that another
// holder keeps (its blocks are shared, or a lower tier already has its key) drops its
// reference instead of saving a second copy; the last holder saves it.
//
// Capacity rules. A tier holds at most its capacity in chunks, counting copies: a
// device chunk with an ahead-of-time host copy takes a device slot's blocks and a host
// slot. Copies are released first when they are the cheapest entry of their tier, and
// releasing one costs nothing. A chunk that cannot go down (the next tiers are full of
// chunks of running or queued requests, or disabled) is dropped, and with it every
// chunk before it: dropped chunks always form a prefix, recomputed in one pass.
import { hashChain, prefixHash, type BlockHash } from './block-hash.js';
import type { BlockPool } from './block-pool.js';
import type { ChainIndex } from './chain-index.js';
import type { ChunkMeta, ChunkTransfer } from './chunk-transfer.js';
import { ConversationState, NO_SLOT, type ChunkTier } from './conversation-state.js';
import { candidateFor, chunkEvictionOrder, evictionOrder, reclaimableBlocks, type ChunkCandidate, type EvictionPolicy, type LastUse } from './eviction-policy.js';
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

/** A chunk to bring back to device before a request runs. */
export interface RestoreItem {
  chunk: number;
  tier: LowerTier;
  slot: number;
  meta: ChunkMeta;
  /** Prompt tokens of this chunk that the request reuses. */
  reusedTokens: number;
  /**
   * Set when the chunk is another holder's (a chain the request does not continue, or a
   * chunk file found at start-up): it is loaded into blocks found by these hashes, which
   * the request's sequence then takes up like any cached block.
   */
  shared?: { hashes: BlockHash[] };
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
  /** Device evictions that saved nothing because another holder keeps the chunk. */
  sharedEvictions: number;
  /** Chunks swapped in from a holder other than the request's own chain. */
  sharedLoads: number;
}

export interface TierContext {
  pool: BlockPool;
  /** Every chain (named conversations' records and anonymous ones), by record id. */
  conversations: Map<string, ConversationState>;
  index: ChainIndex;
  policy: EvictionPolicy;
  clock: () => number;
  salt: string;
  blockSize: number;
  chunkSize: number;
  /** A new, unnamed chain. */
  newChain(now: number): ConversationState;
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
  /** Chunk files found at start-up and not attached to a chain, by key. */
  private readonly persisted = new Map<string, PersistedChunk>();
  /** Slots a swap-in being planned reads from: eviction leaves them alone. */
  private readonly protectedSlots = new Set<string>();
  readonly lastUse: LastUse;
  private readonly counters = {
    savedChunks: { host: 0, disk: 0 },
    aheadOfTimeChunks: 0,
    reclaimedChunks: 0,
    demotedChunks: 0,
    loadedChunks: { host: 0, disk: 0 },
    droppedChunks: 0,
    lostChunks: 0,
    sharedEvictions: 0,
    sharedLoads: 0,
  };
  /** Device chunk evictions (to a lower tier or dropped). */
  evictedChunks = 0;

  constructor(private readonly ctx: TierContext, capacities: TierCapacities) {
    this.host = new TierSlots('host', capacities.hostChunks);
    this.disk = new TierSlots('disk', capacities.diskChunks);
    this.lowerTiers = (['host', 'disk'] as const).filter((t) => this.slotsOf(t).capacity > 0);
    // A full chunk's key is its last block's hash; a short last chunk is its chain's alone.
    this.lastUse = (conv, c) => {
      const b = (c + 1) * conv.blocksPerChunk - 1;
      return conv.chunkLength(c) === conv.chunkSize && b < conv.hashes.length ? ctx.index.lastUseOf(conv.hashes[b]!) : -Infinity;
    };
  }

  private candidate(conv: ConversationState, c: number, now: number): ChunkCandidate | null {
    return candidateFor(conv, c, now, this.lastUse);
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
    for (const { conv, chunk } of evictionOrder(convs, this.ctx.policy, this.ctx.clock(), this.lastUse)) {
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
        if (conv.host[c] === NO_SLOT && conv.disk[c] === NO_SLOT) return this.candidate(conv, c, now);
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
        if ((t === 'device' || t === 'host') && conv.disk[c] === NO_SLOT) wanted.push({ conv, c, value: policy.retentionValue(this.candidate(conv, c, now)!) });
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
      this.persisted.delete(owner.key);
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
   * Claims the disk slots of chunk files found at start-up. They wait, unattached and
   * indexed by key, for any request whose prompt has the same tokens (attachPersisted,
   * planShared). Returns the ones refused (slot out of range or taken, a second file of
   * the same chunk, tier off).
   */
  adoptPersisted(chunks: readonly PersistedChunk[]): PersistedChunk[] {
    const refused: PersistedChunk[] = [];
    for (const p of chunks) {
      const owner = { conversationId: p.conversationId, chunk: p.chunkIndex, key: p.tokenHash, persisted: true };
      if (this.persisted.has(p.tokenHash) || !this.disk.adopt(p.slot, owner)) {
        refused.push(p);
        continue;
      }
      this.persisted.set(p.tokenHash, p);
    }
    return refused;
  }

  /**
   * Matches the chunk files found at start-up against a prompt: the chunks whose keys
   * equal the prompt's, up to the last one that matches (a short last chunk included),
   * become a new chain with the [dropped | disk] layout, which the request then continues
   * like any returning conversation. Only when they reach past `covered` tokens (what a
   * live chain already offers). Returns the chain, or null.
   */
  attachPersisted(prompt: readonly number[], covered: number): ConversationState | null {
    if (this.persisted.size === 0) return null;
    const { blockSize: bs, chunkSize: cs, salt } = this.ctx;
    const chain = hashChain(prompt, bs, salt);
    const per = cs / bs;
    const full = Math.floor(prompt.length / cs);
    let last = -1;
    for (let c = full - 1; c >= 0 && last < 0; c--) if (this.persisted.has(chain[(c + 1) * per - 1]!)) last = c;
    const run: PersistedChunk[] = [];
    for (let c = last; c >= 0; c--) {
      const p = this.persisted.get(chain[(c + 1) * per - 1]!);
      if (p === undefined) break;
      run.unshift(p);
    }
    // A short chunk right after the run (the last chunk of the history that wrote it).
    const after = (last + 1) * cs;
    for (let n = Math.min(cs - 1, prompt.length - after); n > 0; n--) {
      const p = this.persisted.get(prefixHash(prompt, after + n, chain, bs, salt));
      if (p !== undefined && p.numTokens === n && p.chunkIndex === last + 1) {
        run.push(p);
        break;
      }
    }
    if (run.length === 0) return null;
    const tail = run[run.length - 1]!;
    const end = tail.chunkIndex * cs + tail.numTokens;
    if (end <= covered) return null;
    const now = this.ctx.clock();
    const conv = this.ctx.newChain(now);
    conv.retain(prompt.slice(0, end), new Array<number>(Math.ceil(end / bs)).fill(NO_BLOCK), chain.slice(0, Math.floor(end / bs)), tail.chunkIndex + 1, now);
    conv.lastAccess = Math.max(...run.map((p) => p.lastAccess));
    for (const p of run) {
      this.persisted.delete(p.tokenHash);
      conv.chunks[p.chunkIndex] = 'disk';
      conv.disk[p.chunkIndex] = p.slot;
      this.disk.reassign(p.slot, { conversationId: conv.id, chunk: p.chunkIndex });
    }
    this.ctx.index.update(conv);
    return conv;
  }

  /** Persisted chunks still waiting for a prompt with their tokens. */
  get numPersisted(): number {
    return this.persisted.size;
  }

  /**
   * The full chunks of a prompt that a lower tier holds and the device does not, among
   * positions [0, end) and outside `own`'s share of them (chunks `own` keeps in any tier
   * are restored through it): what a request must swap in from other holders. `chain`
   * holds the prompt's block hashes.
   */
  planShared(chain: readonly BlockHash[], end: number, own: ConversationState | null, ownReach: number): RestoreItem[] {
    if (this.lowerTiers.length === 0) return [];
    const { pool, chunkSize: cs, blockSize: bs } = this.ctx;
    const per = cs / bs;
    const items: RestoreItem[] = [];
    for (let c = 0; (c + 1) * cs <= end && (c + 1) * per <= chain.length; c++) {
      if (own !== null && (c + 1) * cs <= ownReach && own.chunks[c] !== undefined && own.chunks[c] !== 'dropped') continue;
      const hashes = chain.slice(c * per, (c + 1) * per);
      if (hashes.every((h) => pool.lookup(h) !== undefined)) continue;
      const key = hashes[per - 1]!;
      const found = this.holderOf(key);
      if (found === null) continue;
      const meta: ChunkMeta = { conversationId: found.conversationId, chunkIndex: c, numTokens: cs, tokenHash: key, lastAccess: this.ctx.clock() };
      items.push({ chunk: c, tier: found.tier, slot: found.slot, meta, reusedTokens: cs, shared: { hashes } });
    }
    return items;
  }

  /**
   * Swaps in chunks of other holders (from planShared): each is loaded into fresh blocks
   * registered under its block hashes and left in the free queue's cached end, where the
   * request's sequence takes them up at once. Chunks that no longer fit (or whose slot
   * changed hands) are skipped: the request computes them. Returns the items loaded.
   */
  loadShared(items: readonly RestoreItem[], keep: readonly ConversationState[]): RestoreItem[] {
    const { pool } = this.ctx;
    const live = items.filter((it) => it.shared !== undefined && this.slotsOf(it.tier).ownerOf(it.slot)?.key === it.meta.tokenHash);
    const need = live.reduce((n, it) => n + it.shared!.hashes.length, 0);
    if (need === 0) return [];
    for (const it of live) this.protectedSlots.add(`${it.tier}:${it.slot}`);
    try {
      if (!this.ensureFree(need, keep.map((conv) => ({ conv, from: 0 })))) return [];
    } finally {
      this.protectedSlots.clear();
    }
    const loaded: RestoreItem[] = [];
    for (const it of live) {
      // The blocks may have been revived meanwhile (an earlier item, another request).
      if (it.shared!.hashes.every((h) => pool.lookup(h) !== undefined)) continue;
      const ids = pool.allocate(it.shared!.hashes.length)!;
      this.outbox.push({ op: 'load', from: it.tier, slot: it.slot, blocks: ids, chunk: it.meta });
      const anonymous = ids.filter((id, k) => !pool.cacheBlock(id, it.shared!.hashes[k]!));
      pool.free([...ids].reverse());
      if (anonymous.length > 0) continue;
      this.counters.loadedChunks[it.tier]++;
      this.counters.sharedLoads++;
      loaded.push(it);
    }
    return loaded;
  }

  /** A lower-tier slot holding the chunk with this key (host first: it is faster). */
  private holderOf(key: string): { tier: LowerTier; slot: number; conversationId: string } | null {
    for (const tier of this.lowerTiers) {
      const slots = this.slotsOf(tier);
      for (const slot of slots.slotsWithKey(key)) return { tier, slot, conversationId: slots.ownerOf(slot)!.conversationId };
    }
    return null;
  }

  /** Whether a lower tier holds this key in a slot that is not `conv`'s. */
  private heldElsewhere(key: string, conv: ConversationState): boolean {
    for (const tier of this.lowerTiers) {
      if (this.slotsOf(tier).slotsWithKey(key).some((slot) => this.slotsOf(tier).ownerOf(slot)!.conversationId !== conv.id)) return true;
    }
    return false;
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
      sharedEvictions: this.counters.sharedEvictions,
      sharedLoads: this.counters.sharedLoads,
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
    const { pool } = this.ctx;
    let tier: ChunkTier = 'dropped';
    let shared = false;
    if (conv.host[c] !== NO_SLOT) tier = 'host';
    else if (conv.disk[c] !== NO_SLOT) tier = 'disk';
    if (tier !== 'dropped') {
      this.counters.reclaimedChunks++;
    } else if ((shared = !conv.hasLowerSlotBefore(c) && (blocks.every((id) => pool.refCount(id) > 1) || (conv.chunkLength(c) === conv.chunkSize && this.heldElsewhere(conv.chunkKey(c), conv))))) {
      // Another chain or request holds the same blocks, or a lower tier has the chunk: the
      // store keeps it, so this chain lets go of its reference (its prefix is dropped
      // already) and a later request of it finds the chunk by key.
      this.counters.sharedEvictions++;
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
      if (!shared) this.counters.droppedChunks++;
      this.dropPrefix(conv, c - 1);
    }
    // Tail block first into the free queue, so the leading one stays findable longer.
    pool.free([...blocks].reverse());
    this.evictedChunks++;
  }

  /**
   * A free slot of `tier` for chunk `c` of `conv`, making room by evicting the tier's
   * lowest-value entry if its value is below `maxValue`. Null when the tier is full of
   * entries that may not move or are worth more.
   */
  private obtainSlot(tier: LowerTier, conv: ConversationState, c: number, exclude: readonly Exclusion[], maxValue: number): number | null {
    const slots = this.slotsOf(tier);
    const owner = { conversationId: conv.id, chunk: c, key: conv.chunkKey(c) };
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
      if (this.protectedSlots.has(`${tier}:${slots[c]}`)) continue;
      const value = policy.retentionValue(this.candidate(conv, c, now)!);
      if (best === null || value < best.value) best = { tier, conv, persisted: null, chunk: c, value };
    }
    if (tier === 'disk') {
      for (const p of this.persisted.values()) {
        if (this.protectedSlots.has(`disk:${p.slot}`)) continue;
        const value = policy.retentionValue({
          conversationId: p.conversationId,
          chunkIndex: p.chunkIndex,
          contextLength: p.chunkIndex * chunkSize,
          numTokens: p.numTokens,
          idleMs: Math.max(0, now - Math.max(p.lastAccess, this.ctx.index.lastUseOf(p.tokenHash))),
        });
        if (best === null || value < best.value) best = { tier, conv: null, persisted: p, chunk: p.chunkIndex, value };
      }
    }
    return best;
  }

  /** Frees the entry's slot: a copy is forgotten, a host chunk goes to disk, a disk chunk is dropped. */
  private evictLowerEntry(e: LowerEntry, exclude: readonly Exclusion[]): void {
    if (e.persisted !== null) {
      this.persisted.delete(e.persisted.tokenHash);
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
