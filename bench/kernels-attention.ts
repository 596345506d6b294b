// The attention part of bench/kernels.ts: one layer of paged attention of a model's shape for
// 1, 16 and 512 query tokens at the end of a 4K context. K/V live in scattered blocks of a pool
// twice the L3, and calls rotate through sequences, so decode reads K/V from DRAM as a real
// step does.
import { f32ToBf16 } from '../src/kernels/dtype.js';
import { nativeKernels } from '../src/kernels/native.js';
import type { AttentionBatch } from '../src/kernels/types.js';
import type { ModelConfig } from '../src/model/config.js';
import type { KvDType } from '../src/model/kv-cache.js';
import { medianSeconds, randomF32 } from './timing.js';

const BLOCK = 16;

export interface AttentionResult {
  kvDType: KvDType;
  queryTokens: number;
  seconds: number;
  /** Causal QKᵀ and PV flops. */
  flops: number;
  /** K/V bytes one call reads at least once. */
  kvBytes: number;
}

export function benchAttention(
  config: ModelConfig, context: number, queryTokens: readonly number[], minSeconds: number, kvDType: KvDType = 'f32',
): AttentionResult[] {
  const { numHeads: H, numKvHeads: KVH, headDim: D } = config;
  const blockFloats = KVH * BLOCK * D;
  const blocksPerSeq = context / BLOCK;
  const kvBytesPerSeq = context * KVH * D * (kvDType === 'bf16' ? 2 : 4) * 2;
  const seqs = Math.max(2, Math.ceil((64 << 20) / kvBytesPerSeq));
  const numBlocks = seqs * blocksPerSeq;
  const pool = (seed: number) => {
    const values = randomF32(numBlocks * blockFloats, seed);
    return kvDType === 'bf16' ? Uint16Array.from(values, f32ToBf16) : values;
  };
  const kCache = pool(1), vCache = pool(2);
  const order = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = (i * 7919 + 13) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const batchOf = (s: number, tokens: number): AttentionBatch => ({
    numHeads: H, numKvHeads: KVH, headDim: D, blockSize: BLOCK, scale: 1 / Math.sqrt(D),
    qIndptr: Int32Array.from([0, tokens]),
    qPos: Int32Array.from({ length: tokens }, (_, t) => context - tokens + t),
    blockTables: Int32Array.from(order.slice(s * blocksPerSeq, (s + 1) * blocksPerSeq)),
    blockTableIndptr: Int32Array.from([0, blocksPerSeq]),
    contextLens: Int32Array.from([context]),
  });

  return queryTokens.map((tokens) => {
    const batches = Array.from({ length: seqs }, (_, s) => batchOf(s, tokens));
    const q = randomF32(tokens * H * D, 3);
    const out = new Float32Array(q.length);
    let i = 0;
    const seconds = medianSeconds(() => nativeKernels.pagedAttention(batches[i++ % seqs]!, q, kCache, vCache, out), minSeconds);
    let keys = 0;
    for (let t = 0; t < tokens; t++) keys += context - tokens + t + 1;
    return { kvDType, queryTokens: tokens, seconds, flops: keys * H * D * 4, kvBytes: kvBytesPerSeq };
  });
}

