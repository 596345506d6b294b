// What Pensieve keeps of one conversation between its turns: the token history whose KV
// exists (or existed), where each block of it lives, and the residency of each 32-token
// chunk. The layout is [dropped prefix | host/disk middle | device tail] (DESIGN.md §2):
// leading chunks go first because recomputing tokens [0, k) needs only those tokens,
// while the KV of later tokens stays valid.
//
// A chunk's tier is where its KV lives; a chunk may also hold copies in lower tiers (an
// ahead-of-time swap-out, or the slot a swap-in read from), which make evicting it free.
// So `host[c]` / `disk[c]` name slots whether they hold the chunk or a copy of it.
//
// While a request runs on the conversation it has checked the state out: the request's
// sequence holds the blocks, and this record remembers the history and the lower-tier
// copies of chunks the request does not change, for when it gives the state back.
//
// The record owns its layout: residency, blocks and slots change only through the
// methods below (one per move the tier mechanisms make), which keep dropped chunks a
// prefix with no blocks and no slots, and a lower chunk's slot in its tier.
import { prefixHash, type BlockHash } from './block-hash.js';
import { NO_BLOCK, type Sequence } from './sequence.js';
import type { LowerTier } from './tier-slots.js';

/** Where a chunk's KV lives. */
export type ChunkTier = 'device' | 'host' | 'disk' | 'dropped';

/** No slot in that tier. */
export const NO_SLOT = -1;

/** What callers outside the cache may read of a conversation. */
export interface ConversationView {
  readonly id: string;
  /** The history whose KV exists or existed; the next prompt is matched against it. */
  readonly tokens: readonly number[];
  /** Device block per logical block of the history, NO_BLOCK where not on device. */
  readonly blocks: readonly number[];
  readonly chunks: readonly ChunkTier[];
  /** Host slot per chunk (the chunk or a copy of it), NO_SLOT where none. */
  readonly host: readonly number[];
  /** Disk slot per chunk (the chunk or a copy of it), NO_SLOT where none. */
  readonly disk: readonly number[];
  /** Clock time (ms) of the last request start or finish. */
  readonly lastAccess: number;
  /** The request that has checked the state out, if one runs. */
  readonly owner: string | null;
  /** Queued requests holding it resident. */
  readonly pins: number;
}

export class ConversationState implements ConversationView {
  tokens: number[] = [];
  hashes: BlockHash[] = [];
  private blockIds: number[] = [];
  private tiers: ChunkTier[] = [];
  private hostSlots: number[] = [];
  private diskSlots: number[] = [];
  owner: string | null = null;
  pins = 0;

  constructor(
    readonly id: string,
    readonly blockSize: number,
    readonly chunkSize: number,
    public lastAccess: number,
    /** The model id the chain's hashes are salted with. */
    readonly salt = '',
  ) {
    if (chunkSize % blockSize !== 0) throw new RangeError(`chunk size ${chunkSize} is not a multiple of block size ${blockSize}`);
  }

  get blocks(): readonly number[] {
    return this.blockIds;
  }

  get chunks(): readonly ChunkTier[] {
    return this.tiers;
  }

  get host(): readonly number[] {
    return this.hostSlots;
  }

  get disk(): readonly number[] {
    return this.diskSlots;
  }

  get numTokens(): number {
    return this.tokens.length;
  }

  get blocksPerChunk(): number {
    return this.chunkSize / this.blockSize;
  }

  /** Evictable: no request runs on it and none is queued for it. */
  get idle(): boolean {
    return this.owner === null && this.pins === 0;
  }

  /** Logical blocks of chunk `c` that the history reaches. */
  chunkBlocks(c: number): { first: number; end: number } {
    const first = c * this.blocksPerChunk;
    return { first, end: Math.min(first + this.blocksPerChunk, this.blocks.length) };
  }

  /** Tokens before chunk `c`: the context length its KV was computed with. */
  contextLengthBefore(c: number): number {
    return c * this.chunkSize;
  }

  /** Tokens in chunk `c` (the last one may be short). */
  chunkLength(c: number): number {
    return Math.min(this.chunkSize, this.tokens.length - c * this.chunkSize);
  }

  /** Chunk `c`'s key in the chunk store: the hash of every token up to its end. */
  chunkKey(c: number): BlockHash {
    const end = this.contextLengthBefore(c) + this.chunkLength(c);
    return prefixHash(this.tokens, end, this.hashes, this.blockSize, this.salt);
  }

  /** The keys of the history's full chunks, in order (a full chunk's key is its last block's hash). */
  fullChunkKeys(): BlockHash[] {
    const per = this.blocksPerChunk;
    const n = Math.min(Math.floor(this.tokens.length / this.chunkSize), Math.floor(this.hashes.length / per));
    return Array.from({ length: n }, (_, c) => this.hashes[(c + 1) * per - 1]!);
  }

  /** Whether any chunk before `c` has a lower-tier slot (dropping chunk c would drop it too). */
  hasLowerSlotBefore(c: number): boolean {
    for (let i = 0; i < c; i++) if (this.host[i] !== NO_SLOT || this.disk[i] !== NO_SLOT) return true;
    return false;
  }

  /** The first chunk still on device: the next one eviction takes. -1 when none. */
  leadingDeviceChunk(): number {
    return this.chunks.indexOf('device');
  }

  /** Device blocks the conversation holds (each holds one reference). */
  deviceBlocks(): number[] {
    return this.blocks.filter((id) => id !== NO_BLOCK);
  }

  /** The device blocks of chunk `c`, in position order. */
  deviceBlocksOf(c: number): number[] {
    const { first, end } = this.chunkBlocks(c);
    return this.blocks.slice(first, end);
  }

  slots(tier: LowerTier): readonly number[] {
    return tier === 'host' ? this.hostSlots : this.diskSlots;
  }

  /** Chunk `c` now has (a copy in) slot `slot` of `tier`: an ahead-of-time copy, a save, a persisted copy. */
  setSlot(tier: LowerTier, c: number, slot: number): void {
    this.check(c);
    if (this.tiers[c] === 'dropped') throw new Error(`conversation ${this.id}: dropped chunk ${c} cannot hold a ${tier} slot`);
    this.writable(tier)[c] = slot;
  }

  /** Chunk `c` no longer holds a slot in `tier`; only a copy may go this way (else dropPrefix). */
  clearSlot(tier: LowerTier, c: number): void {
    this.check(c);
    if (this.tiers[c] === tier && this.owner === null) throw new Error(`conversation ${this.id}: chunk ${c} lives in its ${tier} slot`);
    this.writable(tier)[c] = NO_SLOT;
  }

  /**
   * The leading device chunk `c` leaves the device for `tier`, where it must hold a slot
   * (or for nowhere: the caller drops the prefix before it). Returns its blocks, whose
   * references the caller drops.
   */
  moveDown(c: number, tier: Exclude<ChunkTier, 'device'>): number[] {
    if (this.tiers[c] !== 'device') throw new Error(`conversation ${this.id}: chunk ${c} is not on device`);
    if (tier !== 'dropped' && this.slots(tier)[c] === NO_SLOT) throw new Error(`conversation ${this.id}: chunk ${c} has no ${tier} slot to move to`);
    const released = this.releaseDeviceBlocks(c);
    this.tiers[c] = tier;
    return released;
  }

  /** Host chunk `c` now lives in disk slot `diskSlot` (a demotion); its host slot is forgotten. */
  demote(c: number, diskSlot: number): void {
    if (this.tiers[c] !== 'host') throw new Error(`conversation ${this.id}: chunk ${c} is not in the host tier`);
    this.diskSlots[c] = diskSlot;
    this.hostSlots[c] = NO_SLOT;
    this.tiers[c] = 'disk';
  }

  /** A host chunk whose disk copy exists loses its host slot: it lives on disk now. */
  keepOnDisk(c: number): void {
    if (this.tiers[c] !== 'host' || this.diskSlots[c] === NO_SLOT) throw new Error(`conversation ${this.id}: chunk ${c} has no disk copy to keep`);
    this.hostSlots[c] = NO_SLOT;
    this.tiers[c] = 'disk';
  }

  /** Chunk `c` is back on device in `blocks` (swapped in, or revived by hash); lower slots stay as copies. */
  swappedIn(c: number, blocks: readonly number[]): void {
    const { first, end } = this.chunkBlocks(c);
    if (blocks.length !== end - first) throw new Error(`conversation ${this.id}: chunk ${c} takes ${end - first} blocks, got ${blocks.length}`);
    blocks.forEach((id, k) => (this.blockIds[first + k] = id));
    this.tiers[c] = 'device';
  }

  /** Chunk `c`, known only as a chunk file, lives in disk slot `slot` (a restart's file attached). */
  attachDiskChunk(c: number, slot: number): void {
    this.check(c);
    this.diskSlots[c] = slot;
    this.tiers[c] = 'disk';
  }

  /**
   * Drops chunks [0, c]: no tier keeps them. None may be on device. Returns the slots they
   * held, for release, and how many were not dropped before.
   */
  dropPrefix(c: number): { slots: { tier: LowerTier; slot: number }[]; newlyDropped: number } {
    const slots: { tier: LowerTier; slot: number }[] = [];
    let newlyDropped = 0;
    for (let i = 0; i <= c; i++) {
      if (this.tiers[i] === 'device') throw new Error(`conversation ${this.id}: dropping chunk ${c} would drop device chunk ${i}`);
      for (const tier of ['host', 'disk'] as const) {
        const slot = this.slots(tier)[i]!;
        if (slot === NO_SLOT) continue;
        this.writable(tier)[i] = NO_SLOT;
        slots.push({ tier, slot });
      }
      if (this.tiers[i] !== 'dropped') newlyDropped++;
      this.tiers[i] = 'dropped';
    }
    return { slots, newlyDropped };
  }

  private writable(tier: LowerTier): number[] {
    return tier === 'host' ? this.hostSlots : this.diskSlots;
  }

  private check(c: number): void {
    if (!Number.isInteger(c) || c < 0 || c >= this.tiers.length) throw new RangeError(`conversation ${this.id} has no chunk ${c}`);
  }

  /**
   * Whether the tier's slot of chunk `c` is a copy: the chunk lives higher (or in a
   * running request's sequence), so releasing the slot loses nothing.
   */
  isCopy(tier: LowerTier, c: number): boolean {
    if (this.owner !== null) return true;
    const t = this.chunks[c];
    return t === 'device' || (tier === 'disk' && t === 'host');
  }

  /** Slots of every lower-tier entry, for release. */
  lowerSlots(): { tier: LowerTier; slot: number }[] {
    const out: { tier: LowerTier; slot: number }[] = [];
    for (const tier of ['host', 'disk'] as const) {
      this.slots(tier).forEach((slot) => slot !== NO_SLOT && out.push({ tier, slot }));
    }
    return out;
  }

  /**
   * Replaces the record: `blocks` covers ceil(tokens / blockSize) logical blocks, and the
   * chunks before `droppedChunks` must already be NO_BLOCK. Lower-tier slots are
   * forgotten: the caller has released or kept them.
   */
  retain(tokens: number[], blocks: number[], hashes: BlockHash[], droppedChunks: number, now: number): void {
    this.tokens = tokens;
    this.blockIds = blocks;
    this.hashes = hashes;
    const numChunks = Math.ceil(tokens.length / this.chunkSize);
    this.tiers = Array.from({ length: numChunks }, (_, c) => (c < droppedChunks ? 'dropped' : 'device'));
    this.hostSlots = new Array<number>(numChunks).fill(NO_SLOT);
    this.diskSlots = new Array<number>(numChunks).fill(NO_SLOT);
    this.lastAccess = now;
  }

  /**
   * Takes back the state a finished request leaves: its computed history and the blocks
   * holding it. Returns the blocks it does not keep, whose references the caller drops.
   */
  retainFrom(seq: Sequence, salt: string, now: number): number[] {
    const { numTokens, holeEnd } = seq.retainable();
    const bs = this.blockSize;
    const numBlocks = Math.ceil(numTokens / bs);
    // A chunk that is partly missing cannot be on device: everything up to the last hole
    // counts as dropped, which keeps the [dropped | device] layout.
    const dropped = Math.min(Math.ceil(holeEnd / this.chunkSize), Math.ceil(numTokens / this.chunkSize));
    const blocks: number[] = [];
    const release: number[] = [];
    for (let b = 0; b < Math.max(numBlocks, seq.blockTable.length); b++) {
      const id = seq.blockTable[b] ?? NO_BLOCK;
      const keep = b < numBlocks && Math.floor((b * bs) / this.chunkSize) >= dropped;
      if (keep && id === NO_BLOCK) throw new Error(`block ${b} of ${seq.requestId} is computed but has no memory`);
      if (b < numBlocks) blocks.push(keep ? id : NO_BLOCK);
      if (!keep && id !== NO_BLOCK) release.push(id);
    }
    // The history's hashes let the next turn skip rehashing and revive dropped blocks.
    const hashes = seq.blockHashes(Math.floor(numTokens / bs), salt);
    this.retain(seq.tokens.slice(0, numTokens), blocks, hashes, dropped, now);
    return release;
  }

  /**
   * Hands every device block to the caller (who now holds its reference). Lower-tier
   * slots of the first `keepCopies` chunks stay, as copies of what the request will
   * not change; the others are returned for release.
   */
  checkOut(requestId: string, now: number, keepCopies = 0): { blocks: number[]; released: { tier: LowerTier; slot: number }[] } {
    const held = this.blockIds;
    const released = this.trimCopies(keepCopies);
    this.blockIds = new Array<number>(held.length).fill(NO_BLOCK);
    this.tiers = this.tiers.map(() => 'dropped');
    this.owner = requestId;
    this.lastAccess = now;
    return { blocks: held, released };
  }

  /** Forgets the lower-tier slots of chunks from `keep` on; returns them for release. */
  trimCopies(keep: number): { tier: LowerTier; slot: number }[] {
    const out: { tier: LowerTier; slot: number }[] = [];
    for (const tier of ['host', 'disk'] as const) {
      const slots = this.writable(tier);
      for (let c = keep; c < slots.length; c++) {
        if (slots[c] !== NO_SLOT) out.push({ tier, slot: slots[c]! });
        slots[c] = NO_SLOT;
      }
    }
    return out;
  }

  /** Marks chunk `c` dropped; returns its device blocks, whose references the caller drops. */
  dropChunk(c: number): number[] {
    const released = this.releaseDeviceBlocks(c);
    this.tiers[c] = 'dropped';
    return released;
  }

  /** Takes chunk `c`'s blocks off the record; returns them (the caller sets its new tier). */
  private releaseDeviceBlocks(c: number): number[] {
    const { first, end } = this.chunkBlocks(c);
    const released: number[] = [];
    for (let b = first; b < end; b++) {
      if (this.blockIds[b] !== NO_BLOCK) released.push(this.blockIds[b]!);
      this.blockIds[b] = NO_BLOCK;
    }
    return released;
  }

  /** Everything the record holds, forgotten; returns the blocks and slots to release. */
  clear(): { blocks: number[]; slots: { tier: LowerTier; slot: number }[] } {
    const blocks = this.deviceBlocks();
    const slots = this.lowerSlots();
    this.tokens = [];
    this.blockIds = [];
    this.hashes = [];
    this.tiers = [];
    this.hostSlots = [];
    this.diskSlots = [];
    return { blocks, slots };
  }
}
