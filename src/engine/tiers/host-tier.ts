// The host tier: a pool of chunk-sized buffers in RAM, separate from the device pool that
// attention reads, so it behaves as a GPU server's host memory does (on a GPU build these
// buffers are the ones to pin for fast PCIe copies). Which slot holds what is decided in
// src/cache/; this only stores bytes. Buffers are allocated on first use and reused, so
// the tier costs memory only up to what it has held, never past its capacity.
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import type { KvPool } from '../../kernels/types.js';
import type { KvCache } from '../../model/kv-cache.js';
import type { TierBackend } from './tier-backend.js';

export class HostTier implements TierBackend {
  readonly tier = 'host';
  private readonly buffers: (KvPool | undefined)[];
  /** Blocks each slot holds (the last chunk of a history may have fewer). */
  private readonly numBlocks: Int32Array;
  readonly chunkFloats: number;

  constructor(readonly kv: KvCache, readonly capacity: number, readonly blocksPerChunk: number) {
    this.buffers = new Array<KvPool | undefined>(capacity);
    this.numBlocks = new Int32Array(capacity);
    this.chunkFloats = kv.gatheredFloats(blocksPerChunk);
  }

  /** Bytes one slot takes. */
  get slotBytes(): number {
    return this.kv.gatheredBytes(this.blocksPerChunk);
  }

  /** Bytes of RAM the tier has allocated so far (at most capacity × slotBytes). */
  get allocatedBytes(): number {
    return this.buffers.reduce((n, b) => n + (b === undefined ? 0 : b.byteLength), 0);
  }

  /** Device blocks → slot. */
  save(slot: number, blocks: readonly number[], _meta?: ChunkMeta): void {
    this.kv.gatherBlocks(blocks, this.buffer(slot));
    this.numBlocks[slot] = blocks.length;
  }

  /** Gathered values → slot. */
  put(slot: number, data: KvPool, numBlocks: number): void {
    this.buffer(slot).set(data.subarray(0, this.kv.gatheredFloats(numBlocks)) as Float32Array);
    this.numBlocks[slot] = numBlocks;
  }

  /** Slot → device blocks; the slot keeps its copy. */
  load(slot: number, blocks: readonly number[], _meta?: ChunkMeta): void {
    if (blocks.length > this.numBlocks[slot]!) throw new Error(`host slot ${slot} holds ${this.numBlocks[slot]} blocks, ${blocks.length} asked`);
    this.kv.scatterBlocks(blocks, this.buffer(slot));
  }

  /** A copy of the slot's content (for a move to disk); the slot is free after. */
  take(slot: number): { data: KvPool; numBlocks: number } {
    const n = this.numBlocks[slot]!;
    return { data: this.buffer(slot).slice(0, this.kv.gatheredFloats(n)), numBlocks: n };
  }

  /** Memory needs no I/O: a swap-in can always run now. */
  ready(): boolean {
    return true;
  }

  /** A released slot keeps its buffer for the next chunk. */
  release(): void {}

  private buffer(slot: number): KvPool {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity) throw new RangeError(`no host slot ${slot} among ${this.capacity}`);
    return (this.buffers[slot] ??= this.kv.newPool(this.chunkFloats));
  }
}
