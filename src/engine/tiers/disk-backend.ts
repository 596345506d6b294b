// The disk tier as a TierBackend: chunk files written and read asynchronously (disk-tier.ts),
// with the bytes staged in RAM meanwhile. The disk is never waited on by the engine loop.
// A chunk written to disk keeps its bytes in memory until the write lands, so a read of it
// in the meantime needs no I/O. A read (prefetch) starts when a request is queued, and the
// scheduler admits the request once its reads have landed (`ready`); others run meanwhile.
// A read that fails its checks, or a write that fails, is reported back (`takeLost`) and
// the chunk is recomputed. Landed reads nobody has used yet (an aborted request's) are kept
// up to a cap, oldest dropped first: a dropped one is read again if it is wanted after all.
// A chunk fetched from the shared tier is written like any other and kept as a landed read.
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import type { KvPool } from '../../kernels/types.js';
import type { KvCache } from '../../model/kv-cache.js';
import type { DiskTier } from './disk-tier.js';
import type { TierBackend } from './tier-backend.js';

interface DiskSlot {
  /** Bumped whenever the slot gets new content or is released: stale completions are ignored. */
  gen: number;
  /** The chunk's gathered values while a write is in flight or after a read landed. */
  data: KvPool | null;
  numBlocks: number;
  writing: boolean;
  reading: boolean;
}

export interface DiskBackendStats {
  /** Bytes read from disk files (prefetches). */
  diskReadBytes: number;
  /** Chunk bytes held in RAM: writes in flight, reads landed and not yet used. */
  stagingBytes: number;
  pendingWrites: number;
  pendingReads: number;
  /** Reads or writes that failed, or files that failed their checks. */
  diskErrors: number;
  /** Swap-ins that had to read the disk synchronously (a read not started in time). */
  syncReads: number;
}

export class DiskBackend implements TierBackend {
  readonly tier = 'disk';
  private readonly slots = new Map<number, DiskSlot>();
  private readonly lost: { slot: number; gen: number; why: string }[] = [];
  private nextGen = 1;
  /** Slots whose read landed and was not used yet, oldest first, with their bytes. */
  private readonly landed = new Map<number, number>();
  private landedBytes = 0;
  private waiters: (() => void)[] = [];
  private readonly counters = { diskReadBytes: 0, diskErrors: 0, syncReads: 0 };

  constructor(
    readonly kv: KvCache,
    readonly files: DiskTier,
    private readonly warn: (message: string) => void,
    /** Bytes of landed, unused reads kept (at least one request's worth: the device's size). */
    private readonly maxLandedBytes: number,
  ) {}

  save(slot: number, blocks: readonly number[], meta: ChunkMeta): void {
    const data = this.kv.newPool(this.kv.gatheredFloats(blocks.length));
    this.kv.gatherBlocks(blocks, data);
    this.put(slot, data, blocks.length, meta);
  }

  /**
   * Starts writing the values to the slot's file; they stay in RAM until it lands, and
   * after it with `keep` (a chunk fetched for a request about to swap it in), as a landed
   * read does.
   */
  put(slot: number, data: KvPool, numBlocks: number, meta: ChunkMeta, keep = false): void {
    this.unland(slot);
    const gen = this.nextGen++;
    const entry: DiskSlot = { gen, data, numBlocks, writing: true, reading: false };
    this.slots.set(slot, entry);
    this.files.write(slot, meta, data, numBlocks).then(
      () => {
        const s = this.slots.get(slot);
        // Landed: the file is the copy now; the bytes stay only if a swap-in wants them.
        if (s?.gen === gen) {
          s.writing = false;
          if (keep && s.data !== null) this.land(slot, s.data);
          else s.data = null;
        }
        this.wake();
      },
      (err) => {
        this.counters.diskErrors++;
        this.warn(`kv disk tier: writing chunk ${meta.conversationId}:${meta.chunkIndex} failed: ${(err as Error).message}`);
        const s = this.slots.get(slot);
        if (s?.gen === gen) {
          s.writing = false;
          s.data = null;
          this.lost.push({ slot, gen, why: (err as Error).message });
        }
        this.wake();
      },
    );
  }

  load(slot: number, blocks: readonly number[], meta: ChunkMeta): void {
    const s = this.slots.get(slot);
    let data = s?.data ?? null;
    if (data === null) {
      // The scheduler waits for prefetches, so this is a bug's or a test's path: stay correct.
      this.counters.syncReads++;
      const result = this.files.readSync(slot, meta);
      if (typeof result === 'string') throw new Error(`kv disk tier: chunk ${meta.conversationId}:${meta.chunkIndex} is unusable (${result}) at swap-in`);
      data = result;
    }
    this.kv.scatterBlocks(blocks, data);
    // A landed read has served its purpose, and its array goes to the next read; a write in
    // flight still needs its bytes.
    if (s === undefined || !s.writing) {
      if (s !== undefined) s.data = null;
      this.files.recycle(data);
    }
    this.unland(slot);
  }

  take(): { data: KvPool; numBlocks: number } {
    throw new Error('the disk tier is the lowest: nothing moves out of it');
  }

  release(slot: number): void {
    this.unland(slot);
    this.slots.delete(slot);
    void this.files.remove(slot).catch((err) => this.warn(`kv disk tier: ${(err as Error).message}`));
  }

  ready(slot: number, meta: ChunkMeta): boolean {
    if (this.isLoaded(slot)) return true;
    this.prefetch(slot, meta);
    return false;
  }

  /** Starts reading a chunk into memory, unless it is there or on its way. */
  prefetch(slot: number, expect: ChunkMeta): void {
    const s = this.slots.get(slot);
    if (s !== undefined && (s.data !== null || s.reading)) return;
    const gen = s?.gen ?? this.nextGen++;
    const entry: DiskSlot = { gen, data: null, numBlocks: 0, writing: false, reading: true };
    this.slots.set(slot, entry);
    this.files.read(slot, expect).then(
      (result) => this.landRead(slot, gen, result),
      (err) => this.landRead(slot, gen, `unreadable: ${(err as Error).message}`),
    );
  }

  /** Whether a chunk's bytes are in memory (a swap-in of it needs no I/O). */
  isLoaded(slot: number): boolean {
    return this.slots.get(slot)?.data != null;
  }

  /** Whether a read of the slot is in flight. */
  isReading(slot: number): boolean {
    return this.slots.get(slot)?.reading === true;
  }

  /** Slots whose content turned out lost (failed write, corrupt file): the cache drops them. */
  takeLost(): { slot: number; why: string }[] {
    const out = this.lost.filter((l) => (this.slots.get(l.slot)?.gen ?? -1) === l.gen || !this.slots.has(l.slot));
    this.lost.length = 0;
    return out.map(({ slot, why }) => ({ slot, why }));
  }

  /** Whether a read is in flight. */
  get reading(): boolean {
    return this.hasReads();
  }

  /** Reads or writes in flight. */
  get pending(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.writing || s.reading) n++;
    return n;
  }

  /** Resolves when the next read or write completes (at once when none is in flight). */
  nextCompletion(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Resolves once no read is in flight (at once when none is). What a loop with nothing to
   * compute waits on: waking at each of a long history's reads only to find the request
   * still waiting on the others costs a scheduling pass per chunk.
   */
  readsLanded(): Promise<void> {
    if (!this.hasReads()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => (this.hasReads() ? this.waiters.push(check) : resolve());
      this.waiters.push(check);
    });
  }

  stats(): DiskBackendStats {
    let stagingBytes = 0;
    let pendingWrites = 0;
    let pendingReads = 0;
    for (const s of this.slots.values()) {
      if (s.data !== null) stagingBytes += s.data.byteLength;
      if (s.writing) pendingWrites++;
      if (s.reading) pendingReads++;
    }
    return { ...this.counters, stagingBytes, pendingWrites, pendingReads };
  }

  private hasReads(): boolean {
    for (const s of this.slots.values()) if (s.reading) return true;
    return false;
  }

  /** Forgets a landed read's bookkeeping (its bytes were used or are gone). */
  private unland(slot: number): void {
    const bytes = this.landed.get(slot);
    if (bytes === undefined) return;
    this.landed.delete(slot);
    this.landedBytes -= bytes;
  }

  private landRead(slot: number, gen: number, result: KvPool | string): void {
    const s = this.slots.get(slot);
    if (s?.gen === gen && s.reading) {
      s.reading = false;
      if (typeof result === 'string') {
        this.counters.diskErrors++;
        this.warn(`kv disk tier: slot ${slot} discarded (${result}); its chunk will be recomputed`);
        this.lost.push({ slot, gen, why: result });
      } else {
        this.counters.diskReadBytes += result.byteLength;
        s.data = result;
        this.land(slot, result);
      }
    }
    this.wake();
  }

  /** Keeps a slot's bytes in memory for a swap-in to come, dropping the oldest such past the cap. */
  private land(slot: number, data: KvPool): void {
    this.landed.set(slot, data.byteLength);
    this.landedBytes += data.byteLength;
    for (const [old] of this.landed) {
      if (this.landedBytes <= this.maxLandedBytes || old === slot) break;
      const o = this.slots.get(old);
      if (o !== undefined && !o.writing) o.data = null;
      this.unland(old);
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
