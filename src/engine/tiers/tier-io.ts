// Carries out the cache's chunk transfers (src/cache/chunk-transfer.ts) on real memory:
// device blocks ⇄ host slots by copy, and device/host → disk through asynchronous file
// writes. Called by the engine between deciding a step and running its forward pass,
// in the order the cache decided.
//
// The disk is never waited on by the engine loop. A chunk written to disk keeps its bytes
// in memory until the write lands, so a read of it in the meantime needs no I/O. A read
// (prefetch) starts when a request is queued, and the scheduler admits the request once
// its reads have landed (`isLoaded`); others run meanwhile. A read that fails its checks,
// or a write that fails, is reported back (`takeLost`) and the chunk is recomputed.
// Landed reads nobody has used yet (an aborted request's) are kept up to a cap, oldest
// dropped first: a dropped one is read again if it is wanted after all.
import type { ChunkMeta, ChunkTransfer } from '../../cache/chunk-transfer.js';
import type { LowerTier } from '../../cache/tier-slots.js';
import type { KvPool } from '../../kernels/types.js';
import type { KvCache } from '../../model/kv-cache.js';
import type { DiskTier } from './disk-tier.js';
import type { HostTier } from './host-tier.js';

interface DiskSlot {
  /** Bumped whenever the slot gets new content or is released: stale completions are ignored. */
  gen: number;
  /** The chunk's gathered values while a write is in flight or after a read landed. */
  data: KvPool | null;
  numBlocks: number;
  writing: boolean;
  reading: boolean;
}

export interface TierIoStats {
  /** Bytes copied device → tier (swap-out, ahead-of-time copies included). */
  swapOutBytes: { host: number; disk: number };
  /** Bytes copied tier → device (swap-in). */
  swapInBytes: { host: number; disk: number };
  /** Bytes moved host → disk. */
  demoteBytes: number;
  /** Bytes read from disk files (prefetches). */
  diskReadBytes: number;
  /** Chunk bytes held in RAM for the disk tier: writes in flight, reads landed and not yet used. */
  stagingBytes: number;
  /** RAM the host tier has allocated (it grows to its capacity at most). */
  hostAllocatedBytes: number;
  pendingWrites: number;
  pendingReads: number;
  /** Reads or writes that failed, or files that failed their checks. */
  diskErrors: number;
  /** Swap-ins that had to read the disk synchronously (a read not started in time). */
  syncReads: number;
}

export class TierIo {
  private readonly diskSlots = new Map<number, DiskSlot>();
  private readonly lost: { tier: LowerTier; slot: number; gen: number; why: string }[] = [];
  private nextGen = 1;
  /** Slots whose read landed and was not used yet, oldest first, with their bytes. */
  private readonly landed = new Map<number, number>();
  private landedBytes = 0;
  private waiters: (() => void)[] = [];
  private readonly counters = {
    swapOutBytes: { host: 0, disk: 0 },
    swapInBytes: { host: 0, disk: 0 },
    demoteBytes: 0,
    diskReadBytes: 0,
    diskErrors: 0,
    syncReads: 0,
  };

  constructor(
    readonly kv: KvCache,
    readonly host: HostTier | null,
    readonly disk: DiskTier | null,
    private readonly warn: (message: string) => void = () => {},
    /** Bytes of landed, unused reads kept (at least one request's worth: the device's size). */
    private readonly maxLandedBytes = 2 * kv.gatheredBytes(kv.numBlocks),
  ) {}

  /** Runs the transfers, in order. Host copies happen now; disk writes are started. */
  execute(transfers: readonly ChunkTransfer[]): void {
    for (const t of transfers) {
      switch (t.op) {
        case 'save': {
          const bytes = this.kv.gatheredBytes(t.blocks.length);
          this.counters.swapOutBytes[t.to] += bytes;
          if (t.to === 'host') this.hostTier().save(t.slot, t.blocks);
          else {
            const data = this.kv.newPool(this.kv.gatheredFloats(t.blocks.length));
            this.kv.gatherBlocks(t.blocks, data);
            this.writeDisk(t.slot, t.chunk, data, t.blocks.length);
          }
          break;
        }
        case 'copy':
        case 'demote': {
          const { data, numBlocks } = this.hostTier().take(t.hostSlot);
          this.counters.demoteBytes += data.byteLength;
          this.writeDisk(t.slot, t.chunk, data, numBlocks);
          break;
        }
        case 'load': {
          const bytes = this.kv.gatheredBytes(t.blocks.length);
          this.counters.swapInBytes[t.from] += bytes;
          if (t.from === 'host') this.hostTier().load(t.slot, t.blocks);
          else this.loadDisk(t.slot, t.chunk, t.blocks);
          break;
        }
        case 'release':
          if (t.tier === 'disk') {
            this.unland(t.slot);
            this.diskSlots.delete(t.slot);
            void this.diskTier().remove(t.slot).catch((err) => this.warn(`kv disk tier: ${(err as Error).message}`));
          }
          break;
      }
    }
  }

  /** Starts reading a disk chunk into memory, unless it is there or on its way. */
  prefetch(slot: number, expect: ChunkMeta): void {
    const s = this.diskSlots.get(slot);
    if (s !== undefined && (s.data !== null || s.reading)) return;
    const gen = s?.gen ?? this.nextGen++;
    const entry: DiskSlot = { gen, data: null, numBlocks: 0, writing: false, reading: true };
    this.diskSlots.set(slot, entry);
    this.diskTier()
      .read(slot, expect)
      .then(
        (result) => this.landRead(slot, gen, result),
        (err) => this.landRead(slot, gen, `unreadable: ${(err as Error).message}`),
      );
  }

  /** Whether a disk chunk's bytes are in memory (a swap-in of it needs no I/O). */
  isLoaded(slot: number): boolean {
    return this.diskSlots.get(slot)?.data != null;
  }

  /** Whether a read of the slot is in flight. */
  isReading(slot: number): boolean {
    return this.diskSlots.get(slot)?.reading === true;
  }

  /** Disk slots whose content turned out lost (failed write, corrupt file): the cache drops them. */
  takeLost(): { tier: LowerTier; slot: number; why: string }[] {
    const out = this.lost.filter((l) => (this.diskSlots.get(l.slot)?.gen ?? -1) === l.gen || !this.diskSlots.has(l.slot));
    this.lost.length = 0;
    return out.map(({ tier, slot, why }) => ({ tier, slot, why }));
  }

  /** Reads or writes in flight. */
  get pending(): number {
    let n = 0;
    for (const s of this.diskSlots.values()) if (s.writing || s.reading) n++;
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

  /** Resolves once every disk operation issued so far has finished (before shutdown). */
  async idle(): Promise<void> {
    await this.disk?.idle();
  }

  private hasReads(): boolean {
    for (const s of this.diskSlots.values()) if (s.reading) return true;
    return false;
  }

  stats(): TierIoStats {
    let stagingBytes = 0;
    let pendingWrites = 0;
    let pendingReads = 0;
    for (const s of this.diskSlots.values()) {
      if (s.data !== null) stagingBytes += s.data.byteLength;
      if (s.writing) pendingWrites++;
      if (s.reading) pendingReads++;
    }
    return {
      swapOutBytes: { ...this.counters.swapOutBytes },
      swapInBytes: { ...this.counters.swapInBytes },
      demoteBytes: this.counters.demoteBytes,
      diskReadBytes: this.counters.diskReadBytes,
      stagingBytes,
      hostAllocatedBytes: this.host?.allocatedBytes ?? 0,
      pendingWrites,
      pendingReads,
      diskErrors: this.counters.diskErrors,
      syncReads: this.counters.syncReads,
    };
  }

  private writeDisk(slot: number, meta: ChunkMeta, data: KvPool, numBlocks: number): void {
    this.unland(slot);
    const gen = this.nextGen++;
    const entry: DiskSlot = { gen, data, numBlocks, writing: true, reading: false };
    this.diskSlots.set(slot, entry);
    this.diskTier()
      .write(slot, meta, data, numBlocks)
      .then(
        () => {
          const s = this.diskSlots.get(slot);
          // Landed: the file is the copy now; the bytes stay only if a swap-in wants them.
          if (s?.gen === gen) {
            s.writing = false;
            s.data = null;
          }
          this.wake();
        },
        (err) => {
          this.counters.diskErrors++;
          this.warn(`kv disk tier: writing chunk ${meta.conversationId}:${meta.chunkIndex} failed: ${(err as Error).message}`);
          const s = this.diskSlots.get(slot);
          if (s?.gen === gen) {
            s.writing = false;
            s.data = null;
            this.lost.push({ tier: 'disk', slot, gen, why: (err as Error).message });
          }
          this.wake();
        },
      );
  }

  private loadDisk(slot: number, meta: ChunkMeta, blocks: readonly number[]): void {
    const s = this.diskSlots.get(slot);
    let data = s?.data ?? null;
    if (data === null) {
      // The scheduler waits for prefetches, so this is a bug's or a test's path: stay correct.
      this.counters.syncReads++;
      const result = this.diskTier().readSync(slot, meta);
      if (typeof result === 'string') throw new Error(`kv disk tier: chunk ${meta.conversationId}:${meta.chunkIndex} is unusable (${result}) at swap-in`);
      data = result;
    }
    this.kv.scatterBlocks(blocks, data);
    // A landed read has served its purpose; a write in flight still needs its bytes.
    if (s !== undefined && !s.writing) s.data = null;
    this.unland(slot);
  }

  /** Forgets a landed read's bookkeeping (its bytes were used or are gone). */
  private unland(slot: number): void {
    const bytes = this.landed.get(slot);
    if (bytes === undefined) return;
    this.landed.delete(slot);
    this.landedBytes -= bytes;
  }

  private landRead(slot: number, gen: number, result: KvPool | string): void {
    const s = this.diskSlots.get(slot);
    if (s?.gen === gen && s.reading) {
      s.reading = false;
      if (typeof result === 'string') {
        this.counters.diskErrors++;
        this.warn(`kv disk tier: slot ${slot} discarded (${result}); its chunk will be recomputed`);
        this.lost.push({ tier: 'disk', slot, gen, why: result });
      } else {
        this.counters.diskReadBytes += result.byteLength;
        s.data = result;
        this.landed.set(slot, result.byteLength);
        this.landedBytes += result.byteLength;
        for (const [old] of this.landed) {
          if (this.landedBytes <= this.maxLandedBytes || old === slot) break;
          const o = this.diskSlots.get(old);
          if (o !== undefined && !o.writing) o.data = null;
          this.unland(old);
        }
      }
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private hostTier(): HostTier {
    if (this.host === null) throw new Error('a transfer names the host tier, which is disabled');
    return this.host;
  }

  private diskTier(): DiskTier {
    if (this.disk === null) throw new Error('a transfer names the disk tier, which is disabled');
    return this.disk;
  }
}
