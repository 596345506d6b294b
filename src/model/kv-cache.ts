// The paged KV cache memory that attention reads: per layer one K and one V pool
// laid out [numBlocks][numKvHeads][blockSize][headDim] (the kernel contract,
// DESIGN.md §3). Which block belongs to whom is decided elsewhere (src/cache/).
// A chunk's blocks leave for a lower tier, and come back, as one contiguous buffer
// [layer][K, V][block][numKvHeads][blockSize][headDim] (gatherBlocks / scatterBlocks):
// one copy per layer and block, whatever the tier.
import type { ModelConfig } from './config.js';

export const DEFAULT_BLOCK_SIZE = 16;

export interface KvLayer {
  k: Float32Array;
  v: Float32Array;
}

export class KvCache {
  readonly layers: KvLayer[];
  /** Floats of one block of one layer's K (or V) pool. */
  readonly blockFloats: number;

  constructor(readonly config: ModelConfig, readonly numBlocks: number, readonly blockSize = DEFAULT_BLOCK_SIZE) {
    if (!Number.isInteger(numBlocks) || numBlocks <= 0) throw new RangeError(`numBlocks must be a positive integer, got ${numBlocks}`);
    this.blockFloats = config.numKvHeads * blockSize * config.headDim;
    this.layers = Array.from({ length: config.numLayers }, () => ({
      k: new Float32Array(numBlocks * this.blockFloats),
      v: new Float32Array(numBlocks * this.blockFloats),
    }));
  }

  /** Floats that `numBlocks` blocks take across all layers, K and V (a gathered chunk). */
  gatheredFloats(numBlocks: number): number {
    return this.layers.length * 2 * numBlocks * this.blockFloats;
  }

  /** Copies `blocks` of every layer, in order, into `out` (see gatheredFloats). */
  gatherBlocks(blocks: readonly number[], out: Float32Array): void {
    this.checkGathered(blocks, out);
    const bf = this.blockFloats;
    let at = 0;
    for (const { k, v } of this.layers) {
      for (const pool of [k, v]) {
        for (const id of blocks) {
          out.set(pool.subarray(id * bf, (id + 1) * bf), at);
          at += bf;
        }
      }
    }
  }

  /** The inverse of gatherBlocks: writes `src` into `blocks` of every layer. */
  scatterBlocks(blocks: readonly number[], src: Float32Array): void {
    this.checkGathered(blocks, src);
    const bf = this.blockFloats;
    let at = 0;
    for (const { k, v } of this.layers) {
      for (const pool of [k, v]) {
        for (const id of blocks) {
          pool.set(src.subarray(at, at + bf), id * bf);
          at += bf;
        }
      }
    }
  }

  private checkGathered(blocks: readonly number[], buf: Float32Array): void {
    for (const id of blocks) if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks) throw new RangeError(`no block ${id} among ${this.numBlocks}`);
    if (buf.length < this.gatheredFloats(blocks.length)) throw new RangeError(`buffer of ${buf.length} floats, ${this.gatheredFloats(blocks.length)} needed`);
  }

  /** Bytes one block takes across all layers, K and V. */
  static bytesPerBlock(config: ModelConfig, blockSize = DEFAULT_BLOCK_SIZE): number {
    return 2 * config.numLayers * config.numKvHeads * blockSize * config.headDim * Float32Array.BYTES_PER_ELEMENT;
  }

  /** The number of blocks that fit in `bytes`. */
  static blocksFor(config: ModelConfig, bytes: number, blockSize = DEFAULT_BLOCK_SIZE): number {
    return Math.floor(bytes / KvCache.bytesPerBlock(config, blockSize));
  }
}
