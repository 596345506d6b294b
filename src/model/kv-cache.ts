// The paged KV cache memory that attention reads: per layer one K and one V pool
// laid out [numBlocks][numKvHeads][blockSize][headDim] (the kernel contract,
// DESIGN.md §3). Which block belongs to whom is decided elsewhere (src/cache/).
// A chunk's blocks leave for a lower tier, and come back, as one contiguous buffer
// [layer][K, V][block][numKvHeads][blockSize][headDim] (gatherBlocks / scatterBlocks):
// one copy per layer and run of consecutive block ids (a chunk swapped into blocks freshly
// allocated together is usually one run), whatever the tier.
import type { KvPool } from '../kernels/types.js';
import type { ModelConfig } from './config.js';

export const DEFAULT_BLOCK_SIZE = 16;

/** How K/V values are stored: f32, or bf16 (half the memory and the tier traffic). */
export type KvDType = 'f32' | 'bf16';

/**
 * The KV dtype `--kv-dtype auto` gives weights of this dtype (packed or as stored in the file):
 * f32 for f32 weights (exact against reference implementations), bf16 for bf16, f16 and
 * quantized weights, which carry less precision than bf16 K/V loses.
 */
export function kvDTypeForWeights(weightDType: string): KvDType {
  return weightDType === 'f32' ? 'f32' : 'bf16';
}

/** The shape fields of a model that size its KV. */
type KvShape = Pick<ModelConfig, 'numLayers' | 'numKvHeads' | 'headDim'>;

export interface KvLayer {
  k: KvPool;
  v: KvPool;
}

export class KvCache {
  readonly layers: KvLayer[];
  /** Values of one block of one layer's K (or V) pool. */
  readonly blockFloats: number;

  constructor(
    readonly config: ModelConfig,
    readonly numBlocks: number,
    readonly blockSize = DEFAULT_BLOCK_SIZE,
    readonly dtype: KvDType = 'f32',
  ) {
    if (!Number.isInteger(numBlocks) || numBlocks <= 0) throw new RangeError(`numBlocks must be a positive integer, got ${numBlocks}`);
    this.blockFloats = config.numKvHeads * blockSize * config.headDim;
    this.layers = Array.from({ length: config.numLayers }, () => ({
      k: this.newPool(numBlocks * this.blockFloats),
      v: this.newPool(numBlocks * this.blockFloats),
    }));
  }

  /** Bytes of one stored K/V value. */
  static bytesPerValue(dtype: KvDType): number {
    return dtype === 'bf16' ? 2 : 4;
  }

  /** A zeroed array of `n` values of this cache's dtype (a pool, or a gathered chunk). */
  newPool(n: number): KvPool {
    return this.dtype === 'bf16' ? new Uint16Array(n) : new Float32Array(n);
  }

  /** Values that `numBlocks` blocks take across all layers, K and V (a gathered chunk). */
  gatheredFloats(numBlocks: number): number {
    return this.layers.length * 2 * numBlocks * this.blockFloats;
  }

  /** Bytes of a gathered chunk of `numBlocks` blocks. */
  gatheredBytes(numBlocks: number): number {
    return this.gatheredFloats(numBlocks) * KvCache.bytesPerValue(this.dtype);
  }

  /** Copies `blocks` of every layer, in order, into `out` (see gatheredFloats). */
  gatherBlocks(blocks: readonly number[], out: KvPool): void {
    this.checkGathered(blocks, out);
    const runs = blockRuns(blocks);
    const bf = this.blockFloats;
    let at = 0;
    for (const { k, v } of this.layers) {
      for (const pool of [k, v]) {
        for (const { first, count } of runs) {
          (out as Float32Array).set(pool.subarray(first * bf, (first + count) * bf) as Float32Array, at);
          at += count * bf;
        }
      }
    }
  }

  /** The inverse of gatherBlocks: writes `src` into `blocks` of every layer. */
  scatterBlocks(blocks: readonly number[], src: KvPool): void {
    this.checkGathered(blocks, src);
    const runs = blockRuns(blocks);
    const bf = this.blockFloats;
    let at = 0;
    for (const { k, v } of this.layers) {
      for (const pool of [k, v]) {
        for (const { first, count } of runs) {
          (pool as Float32Array).set(src.subarray(at, at + count * bf) as Float32Array, first * bf);
          at += count * bf;
        }
      }
    }
  }

  private checkGathered(blocks: readonly number[], buf: KvPool): void {
    for (const id of blocks) if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks) throw new RangeError(`no block ${id} among ${this.numBlocks}`);
    if (buf.constructor !== this.layers[0]!.k.constructor) throw new TypeError(`a ${buf.constructor.name} for a ${this.dtype} KV cache`);
    if (buf.length < this.gatheredFloats(blocks.length)) throw new RangeError(`buffer of ${buf.length} floats, ${this.gatheredFloats(blocks.length)} needed`);
  }

  /** Bytes one block takes across all layers, K and V. */
  static bytesPerBlock(config: KvShape, blockSize = DEFAULT_BLOCK_SIZE, dtype: KvDType = 'f32'): number {
    return 2 * config.numLayers * config.numKvHeads * blockSize * config.headDim * KvCache.bytesPerValue(dtype);
  }

  /** The number of blocks that fit in `bytes`. */
  static blocksFor(config: ModelConfig, bytes: number, blockSize = DEFAULT_BLOCK_SIZE, dtype: KvDType = 'f32'): number {
    return Math.floor(bytes / KvCache.bytesPerBlock(config, blockSize, dtype));
  }
}

/** Consecutive block ids merged into runs: one copy each instead of one per block. */
function blockRuns(blocks: readonly number[]): { first: number; count: number }[] {
  const runs: { first: number; count: number }[] = [];
  for (const id of blocks) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.first + last.count === id) last.count++;
    else runs.push({ first: id, count: 1 });
  }
  return runs;
}
