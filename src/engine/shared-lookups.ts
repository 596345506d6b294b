// The engine's side of the shared KV tier's read path. When a request is queued, the full
// chunks of its prompt that no local tier holds are asked of the shared tier
// (tiers/shared-tier.ts), and the request waits for the answer (Request.awaitingSharedTier:
// the scheduler lets the requests behind it run meanwhile), which comes within the tier's
// timeout or counts as misses. Each verified chunk gets a disk slot by the cache's rules
// (cache/shared-chunks.ts) and is written there as a chunk file, its bytes kept in memory
// for the swap-in to come; the cache then serves it like a chunk file found at start-up
// (attached to a chain, or swapped in by key). What is not fetched is computed.
import { CHUNK_SIZE } from '../cache/chunk-layout.js';
import type { BlockHash } from '../cache/block-hash.js';
import type { KvCacheManager } from '../cache/kv-cache-manager.js';
import type { Request } from './request.js';
import type { FetchedChunk, SharedTier } from './tiers/shared-tier.js';
import type { TierIo } from './tiers/tier-io.js';

export class SharedLookups {
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly kv: KvCacheManager,
    private readonly io: TierIo,
    private readonly shared: SharedTier,
    private readonly clock: () => number,
  ) {}

  /** Lookups not answered yet. */
  get pending(): number {
    return this.inFlight;
  }

  /** Asks the shared tier for the request's missing chunks, unless it has none to ask for. */
  start(request: Request): void {
    if (this.closed) return;
    const { wants, keys } = this.kv.sharedTierWants(request.id, request.promptTokens);
    if (wants.length === 0) return;
    request.awaitingSharedTier = true;
    this.inFlight++;
    void this.shared
      .lookup(wants)
      .then((chunks) => {
        if (!this.closed) this.adopt(chunks, keys);
      })
      .catch(() => {}) // lookup never rejects; adopt's bugs must not hang the request
      .finally(() => {
        request.awaitingSharedTier = false;
        this.inFlight--;
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
  }

  /** Resolves when the next lookup ends (at once when none is in flight). */
  nextAnswer(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Later answers are dropped (the engine is closing). */
  close(): void {
    this.closed = true;
  }

  /** Gives each fetched chunk a disk slot and writes it there. */
  private adopt(chunks: readonly FetchedChunk[], protect: readonly BlockHash[]): void {
    const now = this.clock();
    const placed: { slot: number; chunk: FetchedChunk }[] = [];
    for (const chunk of chunks) {
      const meta = { conversationId: chunk.conversationId, chunkIndex: chunk.chunk, numTokens: CHUNK_SIZE, tokenHash: chunk.key, lastAccess: now };
      const slot = this.kv.adoptSharedChunk(meta, protect);
      if (slot !== null) placed.push({ slot, chunk });
    }
    // Making room may have released the very slots given out: those moves run first.
    this.io.execute(this.kv.takeTransfers());
    for (const { slot, chunk } of placed) {
      const meta = { conversationId: chunk.conversationId, chunkIndex: chunk.chunk, numTokens: CHUNK_SIZE, tokenHash: chunk.key, lastAccess: now };
      this.io.putFetched(slot, chunk.payload, chunk.numBlocks, meta);
    }
  }
}
