// The answers the scheduler needs about KV memory (vLLM v1's kv_cache_manager.py, with
// Pensieve's conversations): what a new request already has cached, whether its next
// tokens fit, which slots they write, and what is kept when it finishes.
//
// Per request: beginRequest (when admitting it) → per step allocateSlots, run the model,
// markComputed → appendToken for each sampled token → finishRequest (or preempt).
// Three modes, one per server: 'stateless' reuses nothing; 'prefix' reuses full blocks
// by content hash; 'pensieve' also keeps every request's blocks between turns as a chain
// of chunks and moves leading chunks of idle chains down the tiers (host, disk) under
// pressure (chunk-tiers.ts), bringing them back when a prompt with their tokens returns:
// prepareRequest (what must be swapped in) → restore → beginRequest.
//
// One chunk store for every API. A chain is a record of one token history (its tokens,
// where each chunk of it lives); a conversation (a Responses chain, a Conversation) is a
// name pointing at the chain it continues. A request continues the chain it names if its
// prompt keeps that chain's full chunks, or else an unnamed chain its prompt continues
// (a chat-completions client resending its history); otherwise it starts a new chain and
// the old one stays for whoever continues it (a branch). Chunks its own chain lacks are
// found by key in every tier, whichever chain holds them (chunk-tiers.ts planShared).
import { BlockPool } from './block-pool.js';
import type { ChunkMeta, ChunkTransfer } from './chunk-transfer.js';
import { hashChain, type BlockHash } from './block-hash.js';
import { ChainIndex } from './chain-index.js';
import { BLOCK_SIZE, CHUNK_SIZE } from './chunk-layout.js';
import { ChunkTiers, type PersistedChunk, type RestoreItem, type TierCapacities, type TierStats } from './chunk-tiers.js';
import { ConversationState, type ConversationView } from './conversation-state.js';
import { LruPolicy, reclaimableBlocks, type EvictionPolicy } from './eviction-policy.js';
import { commonPrefix, matchCachedPrefix } from './prefix-match.js';
import type { SharedTierWants } from './shared-chunks.js';
import { NO_BLOCK, Sequence, type PositionRange } from './sequence.js';
import type { LowerTier, TierSlots } from './tier-slots.js';

export type CacheMode = 'stateless' | 'prefix' | 'pensieve';

/** What may be read of the device block pool from outside (tests, stats): no moves. */
export type BlockPoolView = Pick<BlockPool, 'numBlocks' | 'numFree' | 'numUsed' | 'numCachedFree' | 'refCount' | 'isFree' | 'hashOf' | 'lookup' | 'freeBlockIds'>;

/** What may be read of a lower tier's slots from outside: who holds which slot. */
export type TierSlotsView = Pick<TierSlots, 'tier' | 'capacity' | 'numUsed' | 'numFree' | 'ownerOf' | 'slotsWithKey' | 'used'>;

export interface KvCacheConfig {
  numBlocks: number;
  mode: CacheMode;
  /** Tokens per block (default BLOCK_SIZE). */
  blockSize?: number;
  /** Tokens per residency chunk (default CHUNK_SIZE); a multiple of blockSize. */
  chunkSize?: number;
  /** The model id: blocks of different models never match. */
  salt?: string;
  policy?: EvictionPolicy;
  /** Chunks the host and disk tiers hold (pensieve mode only); absent: device only. */
  tiers?: TierCapacities;
  /** Milliseconds; injected so tests are deterministic. */
  clock?: () => number;
}

/** What beginRequest found cached for a prompt. */
export interface CacheMatch {
  numPromptTokens: number;
  /** Prompt tokens whose KV is reused (usage.prompt_tokens_details.cached_tokens). */
  numCachedTokens: number;
  /** Of the tokens to compute, those whose KV existed before (dropped or copied on write). */
  numRecomputedTokens: number;
  /** The positions to compute, in order: a dropped prefix, then the new tokens. */
  computeRanges: PositionRange[];
}

/**
 * This step's query tokens of one request and the blocks they read and write. The slot of
 * position p is blockTable[p / blockSize] * blockSize + p % blockSize; the model runner
 * computes it, once, as vLLM's does.
 */
export interface ScheduledSlots {
  positions: number[];
  tokenIds: number[];
  /** Physical block per logical block of positions [0, contextLength). */
  blockTable: number[];
  /** Attention reads positions [0, contextLength) through the block table. */
  contextLength: number;
}

export interface SequenceView {
  readonly requestId: string;
  readonly tokens: readonly number[];
  readonly blockTable: readonly number[];
  readonly numPending: number;
  pendingRanges(): readonly PositionRange[];
}

export interface KvCacheStats {
  numBlocks: number;
  usedBlocks: number;
  freeBlocks: number;
  /** Free blocks still findable by hash. */
  cachedFreeBlocks: number;
  usage: number;
  runningRequests: number;
  /** Named conversations. */
  conversations: number;
  /** Chains in the store, named or not. */
  chains: number;
  /** Block references held by conversations between turns. */
  conversationBlocks: number;
  /** Prompt tokens looked up (vLLM's prefix_cache_queries). */
  prefixCacheQueries: number;
  /** Prompt tokens found cached (vLLM's prefix_cache_hits). */
  prefixCacheHits: number;
  recomputedTokens: number;
  /** Chunks that left the device (to a lower tier, or dropped). */
  evictedChunks: number;
  preemptions: number;
  tiers: TierStats;
}

interface Running {
  seq: Sequence;
  /** The conversation whose state this request checked out, if any. */
  conv: ConversationState | null;
  /** What beginRequest added to the counters (taken back by cancelRequest). */
  counted: { queries: number; hits: number; recomputed: number };
}

export class KvCacheManager {
  private readonly pool: BlockPool;
  readonly mode: CacheMode;
  readonly blockSize: number;
  readonly chunkSize: number;
  readonly salt: string;
  private readonly policy: EvictionPolicy;
  private readonly clock: () => number;
  private readonly running = new Map<string, Running>();
  /** Every chain, by record id. */
  private readonly conversations = new Map<string, ConversationState>();
  /** Conversation name → the record id of the chain it points at, and back. */
  private readonly names = new Map<string, string>();
  private readonly nameOf = new Map<string, string>();
  private readonly index = new ChainIndex();
  /** The prompt hash chain of each request being prepared or run. */
  private readonly promptHashes = new Map<string, { length: number; hashes: BlockHash[] }>();
  private nextChain = 0;
  private readonly counters = { prefixCacheQueries: 0, prefixCacheHits: 0, recomputedTokens: 0, preemptions: 0 };
  private readonly tiers: ChunkTiers;

  constructor(config: KvCacheConfig) {
    this.pool = new BlockPool(config.numBlocks);
    this.mode = config.mode;
    this.blockSize = config.blockSize ?? BLOCK_SIZE;
    this.chunkSize = config.chunkSize ?? CHUNK_SIZE;
    if (!Number.isInteger(this.blockSize) || this.blockSize <= 0) throw new RangeError(`bad block size ${this.blockSize}`);
    if (this.chunkSize % this.blockSize !== 0) throw new RangeError(`chunk size ${this.chunkSize} is not a multiple of block size ${this.blockSize}`);
    this.salt = config.salt ?? '';
    this.policy = config.policy ?? new LruPolicy();
    this.clock = config.clock ?? Date.now;
    const capacities = this.mode === 'pensieve' ? (config.tiers ?? { hostChunks: 0, diskChunks: 0 }) : { hostChunks: 0, diskChunks: 0 };
    this.tiers = new ChunkTiers(
      {
        pool: this.pool,
        conversations: this.conversations,
        index: this.index,
        policy: this.policy,
        clock: this.clock,
        salt: this.salt,
        blockSize: this.blockSize,
        chunkSize: this.chunkSize,
        newChain: (now) => this.newChain(`~chain-${this.nextChain++}`, now),
      },
      capacities,
    );
  }

  get policyName(): string {
    return this.policy.name;
  }

  /** The device block pool, read-only. */
  get blocks(): BlockPoolView {
    return this.pool;
  }

  /** A lower tier's slots, read-only (who holds which slot). */
  lowerSlots(tier: LowerTier): TierSlotsView {
    return this.tiers.slotsOf(tier);
  }

  /**
   * What a request must swap in before it runs: its chain's chunks in lower tiers inside
   * the prompt's common prefix with the chain's history, and the prompt's other full
   * chunks that some lower tier holds (another chain's, or a chunk file found after a
   * restart, which may become the chain the request continues). Call it when the request
   * is queued (to start disk reads early) and again when admitting it.
   */
  prepareRequest(requestId: string | null, promptTokens: readonly number[], conversationId: string | null): RestoreItem[] {
    if (this.mode !== 'pensieve' || promptTokens.length === 0) return [];
    const hashes = this.hashesOf(requestId, promptTokens);
    let choice = this.choose(promptTokens, conversationId, hashes);
    if (this.tiers.attachPersisted(promptTokens, choice.lcp) !== null) choice = this.choose(promptTokens, conversationId, hashes);
    const { conv, lcp } = choice;
    const own = conv === null ? [] : this.tiers.planRestore(conv, lcp);
    return [...own, ...this.tiers.planShared(hashes, promptTokens.length - 1, conv, lcp)];
  }

  /** For a conversation's request: see prepareRequest. */
  prepareConversation(conversationId: string, promptTokens: readonly number[]): RestoreItem[] {
    return this.prepareRequest(null, promptTokens, conversationId);
  }

  /**
   * Swaps `items` (from prepareRequest) in. Null, changing nothing, when the request's own
   * chain's chunks do not fit; otherwise the items swapped in (other holders' chunks that
   * no longer fit are left out: the request computes them).
   */
  restore(items: readonly RestoreItem[]): RestoreItem[] | null {
    const own = items.filter((it) => it.shared === undefined);
    const conv = own.length === 0 ? null : this.conversations.get(own[0]!.meta.conversationId);
    if (own.length > 0 && (conv === undefined || conv === null || !this.tiers.restore(conv, own))) return null;
    const shared = this.tiers.loadShared(items.filter((it) => it.shared !== undefined), conv === null || conv === undefined ? [] : [conv]);
    return [...own, ...shared];
  }

  /** A request that was prepared but will not begin (aborted while queued). */
  abandonRequest(requestId: string): void {
    if (!this.running.has(requestId)) this.promptHashes.delete(requestId);
  }

  /** Swaps `items` in; false, changing nothing, when they do not fit. */
  restoreConversation(_conversationId: string, items: readonly RestoreItem[]): boolean {
    if (items.length === 0) return true;
    return this.restore(items) !== null;
  }

  /** Ahead-of-time swap-out below `threshold` free; see ChunkTiers.swapOutAhead. */
  swapOutAhead(threshold: number, maxChunks: number): number {
    return this.tiers.swapOutAhead(threshold, maxChunks);
  }

  /** Copies what only device and host hold to disk, before a shutdown; see ChunkTiers.persistAll. */
  persistAll(): number {
    return this.tiers.persistAll();
  }

  /** Write-behind for the shared tier: at most `maxChunks` idle chunks copied to disk; see ChunkTiers.persistIdle. */
  persistIdle(maxChunks: number): number {
    return this.tiers.persistIdle(maxChunks);
  }

  /** The tier moves decided since the last call, in the order they must run. */
  takeTransfers(): ChunkTransfer[] {
    return this.tiers.takeTransfers();
  }

  /** A lower-tier slot's content was lost (I/O error, corrupt file): its chunk is recomputed. */
  lostChunk(tier: LowerTier, slot: number): void {
    this.tiers.lostChunk(tier, slot);
  }

  /**
   * The prompt's full chunks that no local tier holds (device, host, disk, chunk files
   * found at start-up): what to ask the shared tier for before the request runs.
   */
  sharedTierWants(requestId: string | null, promptTokens: readonly number[]): SharedTierWants {
    if (this.mode !== 'pensieve' || promptTokens.length === 0) return { wants: [], keys: [] };
    return this.tiers.sharedTierWants(this.hashesOf(requestId, promptTokens), promptTokens.length - 1);
  }

  /**
   * A disk slot for a chunk the shared tier returned (null: none, or a local tier has it
   * by now); the chunk then serves any prompt with its tokens, as a chunk file found at
   * start-up does. Disk entries holding `protect`'s keys are not evicted for it. Run the
   * transfers (takeTransfers) before writing the slot: making room may have released it.
   */
  adoptSharedChunk(chunk: Omit<PersistedChunk, 'slot'>, protect: readonly BlockHash[] = []): number | null {
    if (this.mode !== 'pensieve') return null;
    return this.tiers.adoptSharedChunk(chunk, protect);
  }

  /** Every full chunk the disk tier holds and the identity its file records (what a drain shares). */
  diskChunksToShare(): { slot: number; meta: ChunkMeta }[] {
    return this.tiers.diskChunksToShare();
  }

  /** Chunk files found at start-up; returns those refused (the caller deletes them). */
  adoptPersisted(chunks: readonly PersistedChunk[]): PersistedChunk[] {
    if (this.mode !== 'pensieve') return [...chunks];
    return this.tiers.adoptPersisted(chunks);
  }

  /**
   * Starts a request: reuses what is cached of its prompt and says what must be computed.
   * Call it when admitting the request (it takes references on reused blocks). In
   * pensieve mode a request with a conversation id checks the conversation's state out;
   * a second request on a busy conversation falls back to the prefix cache.
   * `computedBefore`: how many leading tokens this request had computed before it was
   * preempted (0 at first admission); whatever of them must be computed again counts as
   * recomputed, whichever mode or cache lost them.
   */
  beginRequest(requestId: string, promptTokens: readonly number[], conversationId: string | null = null, computedBefore = 0): CacheMatch {
    if (this.running.has(requestId)) throw new Error(`request ${requestId} already begun`);
    if (promptTokens.length === 0) throw new RangeError(`request ${requestId} has an empty prompt`);
    const now = this.clock();
    let conv: ConversationState | null = null;
    let hashes: BlockHash[] = [];
    if (this.mode === 'pensieve') {
      this.collectEmptyChains();
      hashes = this.hashesOf(requestId, promptTokens);
      conv = this.choose(promptTokens, conversationId, hashes).conv ?? this.startChain(conversationId, now);
    }
    const match =
      this.mode === 'stateless'
        ? { seq: statelessSequence(requestId, promptTokens, this.blockSize), numRecomputedTokens: 0 }
        : matchCachedPrefix(this.pool, requestId, promptTokens, this.blockSize, this.salt, conv, now, hashes);
    const { seq } = match;
    if ('releasedSlots' in match) this.tiers.releaseSlots(match.releasedSlots);
    const numCachedTokens = seq.numTokens - seq.numPending;
    const computeRanges = seq.pendingRanges().map((r) => ({ ...r }));
    // A dropped prefix lies below what the request had computed, so it is counted once.
    const numRecomputedTokens = computedBefore > 0
      ? computeRanges.reduce((n, r) => n + Math.max(0, Math.min(r.end, computedBefore) - r.start), 0)
      : match.numRecomputedTokens;
    const counted = this.mode === 'stateless'
      ? { queries: 0, hits: 0, recomputed: numRecomputedTokens }
      : { queries: seq.numTokens, hits: numCachedTokens, recomputed: numRecomputedTokens };
    this.count(counted, 1);
    this.running.set(requestId, { seq, conv, counted });
    if (conv !== null) this.index.touch(this.reusedChunkKeys(seq), now);
    return { numPromptTokens: seq.numTokens, numCachedTokens, numRecomputedTokens, computeRanges };
  }

  /** Whether the request's next `numTokens` missing positions would get their blocks. */
  canAllocate(requestId: string, numTokens: number): boolean {
    const seq = this.sequenceOf(requestId);
    const need = missingBlocks(seq, seq.nextPending(numTokens)).length;
    return need <= this.pool.numFree || need <= this.pool.numFree + reclaimableBlocks(this.conversations.values(), this.pool);
  }

  /**
   * Gives the request's next `numTokens` missing positions their slots, evicting idle
   * conversations' chunks if needed. Null (nothing changed) when they cannot fit: the
   * scheduler then waits or preempts. Asking again before markComputed returns the same
   * positions.
   */
  allocateSlots(requestId: string, numTokens: number): ScheduledSlots | null {
    if (!Number.isInteger(numTokens) || numTokens <= 0) throw new RangeError(`cannot schedule ${numTokens} tokens`);
    const seq = this.sequenceOf(requestId);
    const positions = seq.nextPending(numTokens);
    const missing = missingBlocks(seq, positions);
    if (missing.length > 0) {
      if (!this.ensureFree(missing.length)) return null;
      const ids = this.pool.allocate(missing.length)!;
      missing.forEach((b, i) => seq.setBlock(b, ids[i]!));
    }
    const contextLength = positions[positions.length - 1]! + 1;
    const blockTable = seq.blockTable.slice(0, Math.ceil(contextLength / this.blockSize));
    for (const p of positions) if ((blockTable[Math.floor(p / this.blockSize)] ?? NO_BLOCK) === NO_BLOCK) throw new Error(`position ${p} of ${requestId} has no block`);
    return { positions, tokenIds: positions.map((p) => seq.tokens[p]!), blockTable, contextLength };
  }

  /**
   * Records that the forward pass wrote the KV of the request's next `numTokens`
   * positions. Blocks it completes become findable by hash now, so that concurrent
   * requests share a prefix as soon as it exists.
   */
  markComputed(requestId: string, numTokens: number): void {
    const seq = this.sequenceOf(requestId);
    const done = seq.consumePending(numTokens);
    if (this.mode === 'stateless') return;
    let last = -1;
    for (const p of done) {
      const b = Math.floor(p / this.blockSize);
      if (b === last) continue;
      last = b;
      if (!seq.isBlockFull(b) || !seq.isBlockComputed(b)) continue;
      const id = seq.blockTable[b]!;
      if (this.pool.hashOf(id) === null) this.pool.cacheBlock(id, seq.blockHash(b, this.salt));
    }
  }

  /** Adds a sampled token; its KV is computed by the next decode step. */
  appendToken(requestId: string, token: number): void {
    this.sequenceOf(requestId).append(token);
  }

  /**
   * Ends a request. Its computed history (every token whose KV was written, so not the
   * last sampled one) stays with its conversation in pensieve mode; otherwise its blocks
   * are freed, the full ones staying findable by hash except in stateless mode (which
   * never hashed them). Returns the number of tokens the conversation keeps.
   */
  finishRequest(requestId: string): number {
    const r = this.running.get(requestId);
    if (r === undefined) throw new Error(`no request ${requestId}`);
    this.running.delete(requestId);
    this.promptHashes.delete(requestId);
    const { seq, conv } = r;
    if (conv !== null && this.conversations.get(conv.id) === conv) {
      conv.owner = null;
      const copies = { host: conv.host, disk: conv.disk };
      const now = this.clock();
      this.pool.free(conv.retainFrom(seq, this.salt, now).reverse());
      this.tiers.reattachCopies(conv, copies);
      this.index.update(conv);
      this.index.touch(conv.fullChunkKeys(), now);
      return conv.numTokens;
    }
    this.pool.free(seq.blockTable.filter((id) => id !== NO_BLOCK).reverse());
    return 0;
  }

  /**
   * Takes a running request off the device when nothing else can be evicted; the engine
   * keeps its tokens and begins it again later. Its conversation keeps the state as an
   * idle one, so eviction takes only as many leading chunks as the scheduler needs.
   */
  preempt(requestId: string): void {
    this.finishRequest(requestId);
    this.counters.preemptions++;
  }

  /**
   * Takes back a beginRequest whose first allocation did not fit (the scheduler waits
   * instead of running it): the state goes back as after finishRequest, and nothing of
   * the attempt is counted.
   */
  cancelRequest(requestId: string): void {
    const r = this.running.get(requestId);
    if (r === undefined) throw new Error(`no request ${requestId}`);
    this.count(r.counted, -1);
    this.finishRequest(requestId);
  }

  private count(c: Running['counted'], sign: 1 | -1): void {
    this.counters.prefixCacheQueries += sign * c.queries;
    this.counters.prefixCacheHits += sign * c.hits;
    this.counters.recomputedTokens += sign * c.recomputed;
  }

  /** Keeps a conversation resident while a request for it waits in the queue. */
  pinConversation(conversationId: string): void {
    if (this.mode === 'pensieve') this.conversationState(conversationId, this.clock()).pins++;
  }

  unpinConversation(conversationId: string): void {
    const conv = this.named(conversationId);
    if (conv !== undefined && conv.pins > 0) conv.pins--;
  }

  /**
   * Starts conversation `toId` as a copy of the first `numTokens` of `fromId` (a branch),
   * sharing its device blocks. A shared partial block is never written in place: the
   * first branch to extend it recomputes its tokens into a fresh block.
   */
  forkConversation(fromId: string, toId: string, numTokens?: number): boolean {
    const src = this.named(fromId);
    if (this.mode !== 'pensieve' || src === undefined || fromId === toId) return false;
    const now = this.clock();
    const n = Math.min(numTokens ?? src.numTokens, src.numTokens);
    const dst = this.conversationState(toId, now);
    if (dst.owner !== null) throw new Error(`conversation ${toId} is in use by ${dst.owner}`);
    this.release(dst);
    const blocks = src.blocks.slice(0, Math.ceil(n / this.blockSize));
    this.pool.touch(blocks.filter((id) => id !== NO_BLOCK));
    const numChunks = Math.ceil(n / this.chunkSize);
    const firstDevice = src.leadingDeviceChunk();
    const dropped = firstDevice < 0 ? numChunks : Math.min(firstDevice, numChunks);
    dst.retain(src.tokens.slice(0, n), blocks, src.hashes.slice(0, Math.floor(n / this.blockSize)), dropped, now);
    this.index.update(dst);
    return true;
  }

  /** Forgets a conversation (and its pins); a request running on it frees its blocks when it ends. */
  dropConversation(conversationId: string): void {
    const conv = this.named(conversationId);
    if (conv === undefined) return;
    this.forget(conv);
    // A running request still holds the device blocks and frees them when it ends.
    this.release(conv);
  }

  /** Forgets a chain by record id, named or not (see dropConversation). */
  dropChain(chainId: string): void {
    const conv = this.conversations.get(chainId);
    if (conv === undefined) return;
    this.forget(conv);
    this.release(conv);
  }

  sequence(requestId: string): SequenceView | undefined {
    return this.running.get(requestId)?.seq;
  }

  requestIds(): string[] {
    return [...this.running.keys()];
  }

  /** The chain a conversation name points at. */
  conversation(conversationId: string): ConversationView | undefined {
    return this.named(conversationId);
  }

  conversationIds(): string[] {
    return [...this.names.keys()];
  }

  /** A chain by record id, named or not. */
  chain(chainId: string): ConversationView | undefined {
    return this.conversations.get(chainId);
  }

  chainIds(): string[] {
    return [...this.conversations.keys()];
  }

  /** The request's physical block per logical block (NO_BLOCK only past this step's positions). */
  blockTable(requestId: string): readonly number[] {
    return this.sequenceOf(requestId).blockTable;
  }

  stats(): KvCacheStats {
    let conversationBlocks = 0;
    for (const conv of this.conversations.values()) conversationBlocks += conv.deviceBlocks().length;
    return {
      numBlocks: this.pool.numBlocks,
      usedBlocks: this.pool.numUsed,
      freeBlocks: this.pool.numFree,
      cachedFreeBlocks: this.pool.numCachedFree,
      usage: this.pool.usage(),
      runningRequests: this.running.size,
      conversations: this.names.size,
      chains: this.conversations.size,
      conversationBlocks,
      ...this.counters,
      evictedChunks: this.tiers.evictedChunks,
      tiers: this.tiers.stats(),
    };
  }

  /** Makes `need` blocks free, moving idle conversations' chunks down by policy; all or nothing. */
  private ensureFree(need: number): boolean {
    return this.tiers.ensureFree(need);
  }

  /** Forgets a conversation's blocks and lower-tier slots. */
  private release(conv: ConversationState): void {
    const { blocks, slots } = conv.clear();
    this.pool.free(blocks.reverse());
    this.tiers.releaseSlots(slots);
  }

  /** The chain a name points at, created (empty) if it has none. */
  private conversationState(name: string, now: number): ConversationState {
    return this.named(name) ?? this.startChain(name, now);
  }

  private named(name: string): ConversationState | undefined {
    const id = this.names.get(name);
    return id === undefined ? undefined : this.conversations.get(id);
  }

  private newChain(id: string, now: number): ConversationState {
    const conv = new ConversationState(id, this.blockSize, this.chunkSize, now, this.salt);
    this.conversations.set(id, conv);
    return conv;
  }

  /**
   * A new chain for a request that continues none, named `name` if given: the chain the
   * name pointed at stays, unnamed, for whoever continues it (the other branch), unless
   * a request runs on it (then this request's chain stays unnamed).
   */
  private startChain(name: string | null, now: number): ConversationState {
    const old = name === null ? undefined : this.named(name);
    if (name === null || (old !== undefined && old.owner !== null)) return this.newChain(`~chain-${this.nextChain++}`, now);
    const conv = this.newChain(this.conversations.has(name) ? `${name}~${this.nextChain++}` : name, now);
    if (old !== undefined) {
      this.nameOf.delete(old.id);
      // Requests queued for the name hold its pins: they follow the name.
      conv.pins = old.pins;
      old.pins = 0;
    }
    this.names.set(name, conv.id);
    this.nameOf.set(conv.id, name);
    return conv;
  }

  /**
   * The idle chain a prompt continues, and their common prefix (capped below the last
   * prompt token): the named one if the prompt keeps its full chunks, else the unnamed
   * chain holding the longest run of the prompt's chunks whose full chunks it keeps.
   */
  private choose(prompt: readonly number[], name: string | null, hashes: readonly BlockHash[]): { conv: ConversationState | null; lcp: number } {
    const lcpOf = (c: ConversationState) => Math.min(commonPrefix(prompt, c.tokens), prompt.length - 1);
    const keeps = (c: ConversationState, lcp: number) => lcp >= Math.floor(c.numTokens / this.chunkSize) * this.chunkSize;
    let best: { conv: ConversationState | null; lcp: number } = { conv: null, lcp: 0 };
    const own = name === null ? undefined : this.named(name);
    if (own !== undefined && own.owner === null) {
      const lcp = lcpOf(own);
      if (keeps(own, lcp)) best = { conv: own, lcp };
    }
    const per = this.chunkSize / this.blockSize;
    search: for (let c = Math.floor(Math.min(hashes.length, Math.floor(prompt.length / this.blockSize)) / per) - 1; c >= 0 && (c + 1) * this.chunkSize > best.lcp; c--) {
      for (const conv of this.index.chainsWith(hashes[(c + 1) * per - 1]!)) {
        if (conv.owner !== null || this.nameOf.has(conv.id)) continue;
        const lcp = lcpOf(conv);
        if (keeps(conv, lcp) && lcp > best.lcp) {
          best = { conv, lcp };
          break search;
        }
      }
    }
    // The name follows the chain its conversation continues (a restart's chunk files, a
    // history first sent without a name); the chain it left stays for others.
    if (name !== null && best.conv !== null && best.conv !== own && own?.owner == null) this.adopt(name, best.conv);
    return best;
  }

  /** Points `name` at an unnamed chain (a restart's chunk files, a chat history now named). */
  private adopt(name: string, conv: ConversationState): void {
    const old = this.named(name);
    if (old !== undefined) {
      this.nameOf.delete(old.id);
      conv.pins += old.pins;
      old.pins = 0;
    }
    this.names.set(name, conv.id);
    this.nameOf.set(conv.id, name);
  }

  /** The prompt's block hash chain, computed once per request. */
  private hashesOf(requestId: string | null, prompt: readonly number[]): BlockHash[] {
    if (requestId === null) return hashChain(prompt, this.blockSize, this.salt);
    const known = this.promptHashes.get(requestId);
    if (known !== undefined && known.length === prompt.length) return known.hashes;
    const hashes = hashChain(prompt, this.blockSize, this.salt);
    this.promptHashes.set(requestId, { length: prompt.length, hashes });
    return hashes;
  }

  /** Keys of the full chunks whose every block the sequence found cached. */
  private reusedChunkKeys(seq: Sequence): BlockHash[] {
    const per = this.chunkSize / this.blockSize;
    const keys: BlockHash[] = [];
    for (let c = 0; (c + 1) * this.chunkSize <= seq.numTokens - 1; c++) {
      let cached = true;
      for (let b = c * per; b < (c + 1) * per && cached; b++) cached = (seq.blockTable[b] ?? NO_BLOCK) !== NO_BLOCK && seq.isBlockComputed(b);
      if (cached) keys.push(seq.blockHash((c + 1) * per - 1, this.salt));
    }
    return keys;
  }

  /** Forgets a chain: its name, its index entries, its blocks and slots. */
  private forget(conv: ConversationState): void {
    this.conversations.delete(conv.id);
    const name = this.nameOf.get(conv.id);
    if (name !== undefined) {
      this.nameOf.delete(conv.id);
      this.names.delete(name);
    }
    this.index.remove(conv);
  }

  /** Unnamed idle chains whose KV no tier holds any more are forgotten. */
  private collectEmptyChains(): void {
    for (const conv of this.conversations.values()) {
      if (!conv.idle || this.nameOf.has(conv.id)) continue;
      if (conv.chunks.some((t) => t !== 'dropped') || conv.deviceBlocks().length > 0 || conv.lowerSlots().length > 0) continue;
      this.forget(conv);
    }
    this.index.prune(4 * (this.pool.numBlocks + this.tiers.host.capacity + this.tiers.disk.capacity), (k) => this.pool.lookup(k) !== undefined);
  }

  private sequenceOf(requestId: string): Sequence {
    const r = this.running.get(requestId);
    if (r === undefined) throw new Error(`no request ${requestId}`);
    return r.seq;
  }
}

function statelessSequence(requestId: string, tokens: readonly number[], blockSize: number): Sequence {
  const seq = new Sequence(requestId, tokens, blockSize);
  seq.addPending(0, tokens.length);
  return seq;
}

/** Logical blocks the positions write that have no device block yet, in order. */
function missingBlocks(seq: Sequence, positions: readonly number[]): number[] {
  const out: number[] = [];
  for (const p of positions) {
    const b = Math.floor(p / seq.blockSize);
    if (out[out.length - 1] === b) continue;
    if ((seq.blockTable[b] ?? NO_BLOCK) === NO_BLOCK) out.push(b);
  }
  return out;
}
