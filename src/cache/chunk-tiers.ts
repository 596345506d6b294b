// The lower tiers of the one chunk store (host RAM, disk files) and every move between
// them and the device, as bookkeeping: each move is appended to an outbox of
// ChunkTransfers that the engine executes in order before the next forward pass (the
// step plan, src/engine/step-plan.ts; the bytes move in src/engine/tiers/). This class
// holds the state the mechanisms share; each mechanism lives in a file of its own:
//   chunk-eviction.ts          device → host → disk → dropped, lowest retention value first
//   ahead-of-time-swap-out.ts  copies made below the free-block threshold, reclaimed lazily
//   swap-in.ts                 a returning chain's chunks, and other holders' by key
//   persisted-chunks.ts        copies to disk before a shutdown, chunk files after a restart
//   shared-chunks.ts           what to ask the tier shared by replicas for, and where its chunks go
// (Retention values: eviction-policy.ts; the dropped-prefix recompute: prefix-match.ts.)
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
import { prefixHash, type BlockHash } from './block-hash.js';
import type { BlockPool } from './block-pool.js';
import type { ChainIndex } from './chain-index.js';
import * as aheadOfTime from './ahead-of-time-swap-out.js';
import * as eviction from './chunk-eviction.js';
import type { ChunkMeta, ChunkTransfer } from './chunk-transfer.js';
import { NO_SLOT, type ConversationState } from './conversation-state.js';
import { candidateFor, type ChunkCandidate, type EvictionPolicy, type LastUse } from './eviction-policy.js';
import * as persistence from './persisted-chunks.js';
import * as sharing from './shared-chunks.js';
import * as swapIn from './swap-in.js';
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
  /** Set when the chunk's disk slot was filled from the shared tier and not swapped in since. */
  fromSharedTier?: true;
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
  /** Chunks the shared tier returned that were given a disk slot. */
  sharedTierChunks: number;
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

export class ChunkTiers {
  readonly host: TierSlots;
  readonly disk: TierSlots;
  /** Enabled lower tiers, nearest first. */
  readonly lowerTiers: readonly LowerTier[];
  // The state below is shared with the mechanism files, which alone write it.
  outbox: ChunkTransfer[] = [];
  /** Chunk files found at start-up and not attached to a chain, by key. */
  readonly persisted = new Map<string, PersistedChunk>();
  /** Slots a swap-in being planned reads from: eviction leaves them alone. */
  readonly protectedSlots = new Set<string>();
  /** Disk slots filled from the shared tier and not swapped in since: their tokens count as the shared tier's. */
  readonly fromSharedTier = new Set<number>();
  readonly lastUse: LastUse;
  readonly counters = {
    savedChunks: { host: 0, disk: 0 },
    aheadOfTimeChunks: 0,
    reclaimedChunks: 0,
    demotedChunks: 0,
    loadedChunks: { host: 0, disk: 0 },
    droppedChunks: 0,
    lostChunks: 0,
    sharedEvictions: 0,
    sharedLoads: 0,
    sharedTierChunks: 0,
  };
  /** Device chunk evictions (to a lower tier or dropped). */
  evictedChunks = 0;

  constructor(readonly ctx: TierContext, capacities: TierCapacities) {
    this.host = new TierSlots('host', capacities.hostChunks);
    this.disk = new TierSlots('disk', capacities.diskChunks);
    this.lowerTiers = (['host', 'disk'] as const).filter((t) => this.slotsOf(t).capacity > 0);
    // A full chunk's key is its last block's hash; a short last chunk is its chain's alone.
    this.lastUse = (conv, c) => {
      const b = (c + 1) * conv.blocksPerChunk - 1;
      return conv.chunkLength(c) === conv.chunkSize && b < conv.hashes.length ? ctx.index.lastUseOf(conv.hashes[b]!) : -Infinity;
    };
  }

  candidate(conv: ConversationState, c: number, now: number): ChunkCandidate | null {
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

  /** Makes `need` device blocks free, lowest retention value first; see chunk-eviction.ts. */
  ensureFree(need: number, exclude: readonly eviction.Exclusion[] = []): boolean {
    return eviction.ensureFree(this, need, exclude);
  }

  /** A lower-tier slot's content is gone; see chunk-eviction.ts. */
  lostChunk(tier: LowerTier, slot: number): void {
    eviction.lostChunk(this, tier, slot);
  }

  /** Ahead-of-time copies below the threshold; see ahead-of-time-swap-out.ts. */
  swapOutAhead(threshold: number, maxChunks: number): number {
    return aheadOfTime.swapOutAhead(this, threshold, maxChunks);
  }

  /** A returning chain's lower-tier chunks inside the first `lcp` tokens; see swap-in.ts. */
  planRestore(conv: ConversationState, lcp: number): RestoreItem[] {
    return swapIn.planRestore(this, conv, lcp);
  }

  /** Brings a chain's chunks back to device, all or nothing; see swap-in.ts. */
  restore(conv: ConversationState, items: readonly RestoreItem[]): boolean {
    return swapIn.restore(this, conv, items);
  }

  /** The prompt's chunks other holders keep in a lower tier; see swap-in.ts. */
  planShared(chain: readonly BlockHash[], end: number, own: ConversationState | null, ownReach: number): RestoreItem[] {
    return swapIn.planShared(this, chain, end, own, ownReach);
  }

  /** Swaps other holders' chunks in, as far as they fit; see swap-in.ts. */
  loadShared(items: readonly RestoreItem[], keep: readonly ConversationState[]): RestoreItem[] {
    return swapIn.loadShared(this, items, keep);
  }

  /** Copies idle chains' chunks to disk before a shutdown; see persisted-chunks.ts. */
  persistAll(): number {
    return persistence.persistAll(this);
  }

  /** Idle chunks copied to disk, at most `maxChunks`, most valuable first; see persisted-chunks.ts. */
  persistIdle(maxChunks: number): number {
    return persistence.persistIdle(this, maxChunks);
  }

  /** Claims the chunk files found at start-up; see persisted-chunks.ts. */
  adoptPersisted(chunks: readonly PersistedChunk[]): PersistedChunk[] {
    return persistence.adoptPersisted(this, chunks);
  }

  /** Makes the chunk files a prompt matches a chain; see persisted-chunks.ts. */
  attachPersisted(prompt: readonly number[], covered: number): ConversationState | null {
    return persistence.attachPersisted(this, prompt, covered);
  }

  /** The prompt's full chunks no local tier holds; see shared-chunks.ts. */
  sharedTierWants(chain: readonly BlockHash[], end: number): sharing.SharedTierWants {
    return sharing.sharedTierWants(this, chain, end);
  }

  /** A disk slot for a chunk the shared tier returned; see shared-chunks.ts. */
  adoptSharedChunk(chunk: Omit<PersistedChunk, 'slot'>, protect: readonly BlockHash[]): number | null {
    return sharing.adoptSharedChunk(this, chunk, protect);
  }

  /** Every full chunk the disk tier holds; see shared-chunks.ts. */
  diskChunksToShare(): { slot: number; meta: ChunkMeta }[] {
    return sharing.diskChunksToShare(this);
  }

  /** Persisted chunks still waiting for a prompt with their tokens. */
  get numPersisted(): number {
    return this.persisted.size;
  }





  /** Releases the slots a conversation no longer needs. */
  releaseSlots(slots: readonly { tier: LowerTier; slot: number }[]): void {
    for (const { tier, slot } of slots) this.release(tier, slot);
  }

  /**
   * Gives a conversation its lower-tier copies back after a request ran on it: a copy
   * stays where its chunk is on device again; the others are released.
   */
  reattachCopies(conv: ConversationState, copies: { host: readonly number[]; disk: readonly number[] }): void {
    for (const tier of ['host', 'disk'] as const) {
      copies[tier].forEach((slot, c) => {
        if (slot === NO_SLOT) return;
        if (conv.chunks[c] === 'device') conv.setSlot(tier, c, slot);
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
      sharedTierChunks: this.counters.sharedTierChunks,
    };
  }

  /** The identity of chunk `c`'s content, as a disk file records it. */
  meta(conv: ConversationState, c: number): ChunkMeta {
    const { blockSize, salt } = this.ctx;
    const numTokens = conv.chunkLength(c);
    const end = conv.contextLengthBefore(c) + numTokens;
    return { conversationId: conv.id, chunkIndex: c, numTokens, tokenHash: prefixHash(conv.tokens, end, conv.hashes, blockSize, salt), lastAccess: conv.lastAccess };
  }


  release(tier: LowerTier, slot: number): void {
    if (tier === 'disk') this.fromSharedTier.delete(slot);
    this.slotsOf(tier).release(slot);
    this.outbox.push({ op: 'release', tier, slot });
  }
}
