// The paged KV cache memory that attention reads: per layer one K and one V pool
// laid out [numBlocks][numKvHeads][blockSize][headDim] (the kernel contract,
// DESIGN.md §3). Which block belongs to whom is decided elsewhere (src/cache/).
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

  /** Bytes one block takes across all layers, K and V. */
  static bytesPerBlock(config: ModelConfig, blockSize = DEFAULT_BLOCK_SIZE): number {
    return 2 * config.numLayers * config.numKvHeads * blockSize * config.headDim * Float32Array.BYTES_PER_ELEMENT;
  }

  /** The number of blocks that fit in `bytes`. */
  static blocksFor(config: ModelConfig, bytes: number, blockSize = DEFAULT_BLOCK_SIZE): number {
    return Math.floor(bytes / KvCache.bytesPerBlock(config, blockSize));
  }
}
