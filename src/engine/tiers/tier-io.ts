// Carries out the cache's chunk transfers (src/cache/chunk-transfer.ts) on real memory, in
// the order the cache decided, between planning a step and running its forward pass. Each
// transfer goes to the backend of the tier it names (tier-backend.ts): host memory copies
// now, disk files are written and read asynchronously (disk-backend.ts). This file routes
// and counts bytes; it knows no tier's internals. Every chunk a transfer writes to disk is
// announced (onDiskWrite): the shared tier's write path listens there.
import type { ChunkMeta, ChunkTransfer } from '../../cache/chunk-transfer.js';
import type { LowerTier } from '../../cache/tier-slots.js';
import type { KvPool } from '../../kernels/types.js';
import type { KvCache } from '../../model/kv-cache.js';
import { DiskBackend } from './disk-backend.js';
import type { DiskTier } from './disk-tier.js';
import type { HostTier } from './host-tier.js';
import type { TierBackend } from './tier-backend.js';

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
  private readonly backends = new Map<LowerTier, TierBackend>();
  private readonly diskBackend: DiskBackend | null;
  private readonly counters = { swapOutBytes: { host: 0, disk: 0 }, swapInBytes: { host: 0, disk: 0 }, demoteBytes: 0 };
  /** Told of every chunk a transfer writes to the disk tier (the shared tier's write path). */
  onDiskWrite: ((slot: number, meta: ChunkMeta) => void) | null = null;

  constructor(
    readonly kv: KvCache,
    readonly host: HostTier | null,
    readonly disk: DiskTier | null,
    warn: (message: string) => void = () => {},
    /** Bytes of landed, unused disk reads kept (at least one request's worth: the device's size). */
    maxLandedBytes = 2 * kv.gatheredBytes(kv.numBlocks),
  ) {
    this.diskBackend = disk === null ? null : new DiskBackend(kv, disk, warn, maxLandedBytes);
    for (const b of [host, this.diskBackend]) if (b !== null) this.backends.set(b.tier, b);
  }

  /** Runs the transfers, in order. Host copies happen now; disk writes are started. */
  execute(transfers: readonly ChunkTransfer[]): void {
    for (const t of transfers) {
      switch (t.op) {
        case 'save':
          this.counters.swapOutBytes[t.to] += this.kv.gatheredBytes(t.blocks.length);
          this.backend(t.to).save(t.slot, t.blocks, t.chunk);
          if (t.to === 'disk') this.onDiskWrite?.(t.slot, t.chunk);
          break;
        case 'copy':
        case 'demote': {
          const { data, numBlocks } = this.backend('host').take(t.hostSlot);
          this.counters.demoteBytes += data.byteLength;
          this.backend('disk').put(t.slot, data, numBlocks, t.chunk);
          this.onDiskWrite?.(t.slot, t.chunk);
          break;
        }
        case 'load':
          this.counters.swapInBytes[t.from] += this.kv.gatheredBytes(t.blocks.length);
          this.backend(t.from).load(t.slot, t.blocks, t.chunk);
          break;
        case 'release':
          this.backend(t.tier).release(t.slot);
          break;
      }
    }
  }

  /**
   * Writes a chunk fetched from the shared tier into a disk slot the cache gave it; its
   * bytes stay in memory for the swap-in to come. Not a disk write to share again.
   */
  putFetched(slot: number, data: KvPool, numBlocks: number, meta: ChunkMeta): void {
    if (this.diskBackend === null) throw new Error('a fetched chunk needs the disk tier');
    this.diskBackend.put(slot, data, numBlocks, meta, true);
  }

  /** Whether a swap-in of the slot can run now; starts what it waits on (a disk read) if not. */
  ready(tier: LowerTier, slot: number, meta: ChunkMeta): boolean {
    return this.backend(tier).ready(slot, meta);
  }

  /** Starts reading a disk chunk into memory, unless it is there or on its way. */
  prefetch(slot: number, expect: ChunkMeta): void {
    this.diskBackend?.prefetch(slot, expect);
  }

  /** Whether a disk chunk's bytes are in memory (a swap-in of it needs no I/O). */
  isLoaded(slot: number): boolean {
    return this.diskBackend?.isLoaded(slot) ?? false;
  }

  /** Whether a read of the disk slot is in flight. */
  isReading(slot: number): boolean {
    return this.diskBackend?.isReading(slot) ?? false;
  }

  /** Slots whose content turned out lost (failed write, corrupt file): the cache drops them. */
  takeLost(): { tier: LowerTier; slot: number; why: string }[] {
    return (this.diskBackend?.takeLost() ?? []).map(({ slot, why }) => ({ tier: 'disk' as const, slot, why }));
  }

  /** Whether a disk read is in flight. */
  get reading(): boolean {
    return this.diskBackend?.reading ?? false;
  }

  /** Reads or writes in flight. */
  get pending(): number {
    return this.diskBackend?.pending ?? 0;
  }

  /** Resolves when the next read or write completes (at once when none is in flight). */
  nextCompletion(): Promise<void> {
    return this.diskBackend?.nextCompletion() ?? Promise.resolve();
  }

  /** Resolves once no read is in flight (what an engine with nothing to compute waits on). */
  readsLanded(): Promise<void> {
    return this.diskBackend?.readsLanded() ?? Promise.resolve();
  }

  /** Resolves once every disk operation issued so far has finished (before shutdown). */
  async idle(): Promise<void> {
    await this.disk?.idle();
  }

  stats(): TierIoStats {
    const disk = this.diskBackend?.stats() ?? { diskReadBytes: 0, stagingBytes: 0, pendingWrites: 0, pendingReads: 0, diskErrors: 0, syncReads: 0 };
    return {
      swapOutBytes: { ...this.counters.swapOutBytes },
      swapInBytes: { ...this.counters.swapInBytes },
      demoteBytes: this.counters.demoteBytes,
      ...disk,
      hostAllocatedBytes: this.host?.allocatedBytes ?? 0,
    };
  }

  private backend(tier: LowerTier): TierBackend {
    const b = this.backends.get(tier);
    if (b === undefined) throw new Error(`a transfer names the ${tier} tier, which is disabled`);
    return b;
  }
}
