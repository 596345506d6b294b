// The KV tier shared by replicas (DESIGN.md §8, issue 17): a Redis server below each
// replica's disk tier, so a conversation that moves to another replica (its home died or was
// drained) restores its KV instead of recomputing it. Redis's own `maxmemory` and
// `allkeys-lru` bound it; Pensieve never deletes keys in bulk (only a single value that
// failed its checks, so that a good copy can take its place).
//
// Keys: `pensieve:kv:<model fingerprint>:<kv dtype>-b<block size>:<chunk token hash>`. The
// token hash is the chunk's content address (block-hash.ts), so one key always means the
// same tokens; the fingerprint (model-fingerprint.ts) keeps models apart, and the KV layout
// keeps replicas of one model that store K/V differently (--kv-dtype) from overwriting each
// other. Values: the chunk's bytes in the chunk-file format (chunk-file.ts), checksummed; a
// value that fails any check is discarded, counted and deleted, never used.
//
// Writes: shared-writes.ts. Reads (`lookup`): one pipelined GET of the chunks a prompt
// misses locally, bounded by a timeout; what comes back verified is handed to the engine,
// which writes it into its disk tier (shared-lookups.ts). Any failure is a miss.
import { CHUNK_SIZE } from '../../cache/chunk-layout.js';
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import type { SharedChunkWant } from '../../cache/shared-chunks.js';
import type { KvPool } from '../../kernels/types.js';
import { decodeChunkFile, type KvLayout } from './chunk-file.js';
import type { DiskTier } from './disk-tier.js';
import { RedisClient } from './redis-client.js';
import { SharedWrites, type SharedWrite, type SharedWriteStats } from './shared-writes.js';

export interface SharedTierOptions {
  /** redis://HOST:PORT[/DB]. */
  url: string;
  /** The model fingerprint (model-fingerprint.ts): what a chunk file's header names. */
  modelId: string;
  layout: KvLayout;
  /** Milliseconds a lookup (or a write's connection wait) may take; default 2000. */
  timeoutMs?: number;
  /** Chunk writes queued at most; default 4096. */
  queueChunks?: number;
  warn: (message: string) => void;
}

/** A chunk the shared tier returned, verified. */
export interface FetchedChunk {
  chunk: number;
  key: string;
  /** The chain that wrote it, on whichever replica (a label only: keys are content addresses). */
  conversationId: string;
  payload: KvPool;
  numBlocks: number;
}

export interface SharedTierStats extends Omit<SharedWriteStats, 'errors' | 'pending'> {
  /** The server, without credentials. */
  url: string;
  connected: boolean;
  /** Prompts whose missing chunks were asked for; those that timed out or failed (every chunk a miss). */
  lookups: number;
  lookupTimeouts: number;
  lookupErrors: number;
  /** Chunks asked for that came back verified, that were absent, and their bytes. */
  hits: number;
  misses: number;
  readBytes: number;
  /** Values that failed their checks (corrupt, truncated, another model's): discarded. */
  corrupt: number;
  writeErrors: number;
  pendingWrites: number;
}

export class SharedTier {
  readonly namespace: string;
  readonly timeoutMs: number;
  private readonly redis: RedisClient;
  private readonly writes: SharedWrites;
  private readonly counters = { lookups: 0, lookupTimeouts: 0, lookupErrors: 0, hits: 0, misses: 0, readBytes: 0, corrupt: 0 };

  constructor(private readonly options: SharedTierOptions, disk: DiskTier) {
    this.timeoutMs = options.timeoutMs ?? 2000;
    const { layout } = options;
    this.namespace = `pensieve:kv:${options.modelId}:${layout.dtype}-b${layout.blockSize}`;
    this.redis = new RedisClient({ url: options.url, commandTimeoutMs: this.timeoutMs, warn: options.warn });
    this.writes = new SharedWrites(this.redis, disk, (h) => this.keyOf(h), options.queueChunks ?? 4096, this.timeoutMs);
  }

  keyOf(tokenHash: string): string {
    return `${this.namespace}:${tokenHash}`;
  }

  /**
   * The wanted chunks the shared tier holds, verified, in order; [] when it is down or
   * slower than the timeout (the request then computes them). Never rejects.
   */
  async lookup(wants: readonly SharedChunkWant[]): Promise<FetchedChunk[]> {
    if (wants.length === 0) return [];
    this.counters.lookups++;
    const deadline = performance.now() + this.timeoutMs;
    let values: (Buffer | null)[] | 'timeout';
    // A failure that comes at the deadline is the timeout, whichever timer fired first: ours,
    // the client's own command timeout (the same length), or the wait for a first connection.
    // (Timers run on the event loop's cached clock, so "at" allows a few milliseconds early.)
    const failed = (timedOut = performance.now() >= deadline - 5) => {
      if (timedOut) this.counters.lookupTimeouts++;
      else this.counters.lookupErrors++;
      this.counters.misses += wants.length;
      return [];
    };
    try {
      if (!(await this.redis.whenReady(this.timeoutMs))) return failed();
      values = await withDeadline(this.redis.getMany(wants.map((w) => this.keyOf(w.key))), deadline);
    } catch {
      return failed();
    }
    if (values === 'timeout') return failed(true);
    const out: FetchedChunk[] = [];
    const { modelId, layout } = this.options;
    values.forEach((value, i) => {
      const want = wants[i]!;
      if (value === null) {
        this.counters.misses++;
        return;
      }
      const expect: ChunkMeta = { conversationId: '', chunkIndex: want.chunk, numTokens: CHUNK_SIZE, tokenHash: want.key, lastAccess: 0 };
      const chunk = decodeChunkFile(value, modelId, layout, expect);
      if (typeof chunk === 'string') {
        this.counters.corrupt++;
        this.counters.misses++;
        this.options.warn(`shared KV tier: value of chunk ${want.chunk} (${want.key}) discarded (${chunk}); it is recomputed`);
        void this.redis.del(this.keyOf(want.key)).catch(() => {});
        return;
      }
      this.counters.hits++;
      this.counters.readBytes += value.byteLength;
      out.push({ chunk: want.chunk, key: want.key, conversationId: chunk.header.conversationId, payload: chunk.payload, numBlocks: chunk.header.numBlocks });
    });
    return out;
  }

  /** Queues a chunk the disk tier holds for writing (full chunks only: see shared-chunks.ts). */
  offer(w: SharedWrite): void {
    if (w.meta.numTokens === CHUNK_SIZE) this.writes.offer(w);
  }

  /** Resolves true once every queued write is done, false at `deadline` (a performance.now() time). */
  writesDone(deadline: number): Promise<boolean> {
    return this.writes.idle(deadline);
  }

  stats(): SharedTierStats {
    const { errors, pending, ...writes } = this.writes.stats();
    return { url: this.redis.display, connected: this.redis.connected, ...this.counters, ...writes, writeErrors: errors, pendingWrites: pending };
  }

  close(): Promise<void> {
    return this.redis.close();
  }
}

/** `p`'s value, or 'timeout' once `deadline` (a performance.now() time) passes. */
async function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - performance.now()))));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
    p.catch(() => {}); // a reply after the deadline is dropped, an error too
  }
}
