// Paged attention speed on Qwen2.5-0.5B's attention shape (14 query heads, 2 KV
// heads, headDim 64, blocks of 16) over a 4096-token context: a decode token,
// a 16-token chunk and a 512-token prefill chunk at the end of the context,
// plus a batch of 16 decode requests. Reports ms per call (one layer),
// GFLOP/s of the causal QKᵀ and PV work, and for decode the GB/s of K/V read.
// The pool is twice the L3, and successive calls use different requests' blocks
// where possible, so decode reads K/V from DRAM as in a real step. Numbers are
// only meaningful on an idle machine.
// Run `npx tsx bench/attention.ts [scalar|avx2|avx512]`.
import { addon, nativeKernels } from '../src/kernels/native.js';
import type { AttentionBatch } from '../src/kernels/types.js';
import { medianSeconds, randomF32 } from './timing.js';

const HEADS = 14, KV_HEADS = 2, HEAD_DIM = 64, BLOCK = 16, CONTEXT = 4096;
const BLOCK_FLOATS = KV_HEADS * BLOCK * HEAD_DIM;
const BLOCKS_PER_SEQ = CONTEXT / BLOCK;
const SEQS = 16; // 16 × 4096 tokens × 2 heads × 64 × 4 B × 2 (K, V) = 64 MiB
const numBlocks = SEQS * BLOCKS_PER_SEQ;

const kCache = randomF32(numBlocks * BLOCK_FLOATS, 1);
const vCache = randomF32(numBlocks * BLOCK_FLOATS, 2);
// Sequence s owns a shuffled set of blocks, as a block manager would hand out.
const order = Array.from({ length: numBlocks }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = (i * 7919 + 13) % (i + 1);
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const seqBlocks = (s: number) => order.slice(s * BLOCKS_PER_SEQ, (s + 1) * BLOCKS_PER_SEQ);

/** A batch of `requests` sequences (starting at `first`), each with `tokens` query rows at the context's end. */
function batchOf(first: number, requests: number, tokens: number): AttentionBatch {
  const tables: number[] = [], qPos: number[] = [];
  const qIndptr = [0], tableIndptr = [0];
  for (let r = 0; r < requests; r++) {
    tables.push(...seqBlocks((first + r) % SEQS));
    tableIndptr.push(tables.length);
    for (let t = 0; t < tokens; t++) qPos.push(CONTEXT - tokens + t);
    qIndptr.push(qPos.length);
  }
  return {
    numHeads: HEADS, numKvHeads: KV_HEADS, headDim: HEAD_DIM, blockSize: BLOCK, scale: 1 / Math.sqrt(HEAD_DIM),
    qIndptr: Int32Array.from(qIndptr), qPos: Int32Array.from(qPos),
    blockTables: Int32Array.from(tables), blockTableIndptr: Int32Array.from(tableIndptr),
    contextLens: new Int32Array(requests).fill(CONTEXT),
  };
}

function bench(label: string, requests: number, tokens: number): void {
  // Rotate through sequences so each call reads K/V the previous calls did not.
  const batches = Array.from({ length: SEQS }, (_, s) => batchOf(s, requests, tokens));
  const rows = requests * tokens;
  const q = randomF32(rows * HEADS * HEAD_DIM, 3);
  const out = new Float32Array(q.length);
  let i = 0;
  const seconds = medianSeconds(() => nativeKernels.pagedAttention(batches[i++ % SEQS]!, q, kCache, vCache, out), 1.5);
  // Causal work: the token at CONTEXT - tokens + t sees CONTEXT - tokens + t + 1 keys.
  let keys = 0;
  for (let t = 0; t < tokens; t++) keys += CONTEXT - tokens + t + 1;
  const flops = requests * keys * HEADS * HEAD_DIM * 4;
  const kvBytes = requests * CONTEXT * KV_HEADS * HEAD_DIM * 4 * 2;
  console.log(
    `${label.padEnd(28)} ${(seconds * 1e3).toFixed(3).padStart(8)} ms  ${(flops / seconds / 1e9).toFixed(1).padStart(6)} GFLOP/s` +
      `  ${(kvBytes / seconds / 1e9).toFixed(1).padStart(6)} GB/s K/V  ${((seconds * 1e6) / rows).toFixed(1).padStart(7)} µs/token`,
  );
}

const isa = (process.argv[2] ?? 'avx512') as 'scalar' | 'avx2' | 'avx512';
console.log(`active ISA: ${addon.setMaxIsa(isa)}, threads: ${addon.cpuInfo().threads}`);
console.log(`Qwen2.5-0.5B attention (${HEADS}/${KV_HEADS} heads, headDim ${HEAD_DIM}, block ${BLOCK}), context ${CONTEXT}, one layer:`);
bench('decode, 1 request', 1, 1);
bench('decode, 16 requests', 16, 1);
bench('chunk of 16 tokens', 1, 16);
bench('prefill chunk of 512 tokens', 1, 512);
