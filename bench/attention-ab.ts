// A/B two builds of the native addon in one process on decode attention over a long context
// (Qwen2.5-0.5B's attention shape by default: 14/2 heads × 64, blocks of 16), f32 and bf16 K/V.
// As in bench/ab.ts, the builds run interleaved round by round so both meet the same load, and
// the figure that counts is the median of the per-round time ratios. K/V sit in shuffled blocks
// of a pool twice the L3, and calls rotate through sequences, so each call reads K/V from DRAM
// as a real decode step does. Each round also probes the read bandwidth and reports each build's
// share of the roofline max(K/V bytes / bandwidth, flops / f32 peak).
//
//   cp build/Release/pensieve_native.node /tmp/a.node      # the baseline build
//   (change native/, rebuild)
//   npx tsx bench/attention-ab.ts /tmp/a.node build/Release/pensieve_native.node [--rounds 9] [--context 4096] [--tokens 1]
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { f32ToBf16 } from '../src/kernels/dtype.js';
import { randomF32 } from './timing.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '9' },
    context: { type: 'string', default: '4096' },
    tokens: { type: 'string', default: '1' },
    heads: { type: 'string', default: '14/2' },
    'head-dim': { type: 'string', default: '64' },
    threads: { type: 'string' },
    kv: { type: 'string', default: 'f32,bf16' },
    ms: { type: 'string', default: '150' },
    // K/V pool size: 64 MiB (twice the L3) reads K/V from DRAM; 0 keeps one sequence, cache-hot.
    'pool-mib': { type: 'string', default: '64' },
    // median: the time a call takes under the load of the moment; min: the time a call takes
    // when nothing preempts it, steadier on a shared machine, and what compute-bound variants
    // should be compared by.
    stat: { type: 'string', default: 'median' },
  },
});
if (positionals.length !== 2) throw new Error('usage: npx tsx bench/attention-ab.ts A.node B.node [--rounds N] [--context N] [--tokens N]');

/** The addon exports this uses (the rest of the surface is src/kernels/native.ts's). */
interface AddonUnderTest {
  pagedAttention(q: Float32Array, k: Float32Array | Uint16Array, v: Float32Array | Uint16Array, out: Float32Array, qIndptr: Int32Array,
    qPos: Int32Array, tables: Int32Array, tableIndptr: Int32Array, contextLens: Int32Array,
    numHeads: number, numKvHeads: number, headDim: number, blockSize: number, scale: number): void;
  probeReadBandwidth(bytes: number, passes: number): number;
  probeFlops(kind: string, iters: number): number;
  setThreads(n: number): void;
}
const require = createRequire(import.meta.url);
// require() caches by path: the same file twice would be one module, so A = A is no control run.
const builds = positionals.map((p) => require(path.resolve(p)) as AddonUnderTest);
if (path.resolve(positionals[0]!) === path.resolve(positionals[1]!)) console.log('note: A and B are the same file, hence the same module');
if (flags.threads) for (const b of builds) b.setThreads(Number(flags.threads));
const ROUNDS = Number(flags.rounds), CONTEXT = Number(flags.context), TOKENS = Number(flags.tokens);
const [H, KVH] = flags.heads.split('/').map(Number) as [number, number];
const D = Number(flags['head-dim']), BLOCK = 16;
const blocksPerSeq = Math.ceil(CONTEXT / BLOCK), blockFloats = KVH * BLOCK * D;

function setup(kv: 'f32' | 'bf16') {
  const kvBytesPerSeq = CONTEXT * KVH * D * (kv === 'bf16' ? 2 : 4) * 2;
  const poolBytes = Number(flags['pool-mib']) * (1 << 20);
  const seqs = poolBytes === 0 ? 1 : Math.max(2, Math.ceil(poolBytes / kvBytesPerSeq));
  const numBlocks = seqs * blocksPerSeq;
  const pool = (seed: number) => {
    const values = randomF32(numBlocks * blockFloats, seed);
    return kv === 'bf16' ? Uint16Array.from(values, f32ToBf16) : values;
  };
  const order = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = (i * 7919 + 13) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const tables = Array.from({ length: seqs }, (_, s) => Int32Array.from(order.slice(s * blocksPerSeq, (s + 1) * blocksPerSeq)));
  let keys = 0;
  for (let t = 0; t < TOKENS; t++) keys += CONTEXT - TOKENS + t + 1;
  return {
    kv, k: pool(1), v: pool(2), tables, seqs, kvBytes: kvBytesPerSeq, flops: keys * H * D * 4,
    q: randomF32(TOKENS * H * D, 3), out: new Float32Array(TOKENS * H * D),
    qIndptr: Int32Array.from([0, TOKENS]), qPos: Int32Array.from({ length: TOKENS }, (_, t) => CONTEXT - TOKENS + t),
    tableIndptr: Int32Array.from([0, blocksPerSeq]), ctx: Int32Array.from([CONTEXT]),
  };
}
type Setup = ReturnType<typeof setup>;

/** Median seconds per call over ~`ms` milliseconds of calls, rotating through sequences. */
function timeBuild(a: AddonUnderTest, s: Setup): number {
  const call = (i: number) => a.pagedAttention(s.q, s.k, s.v, s.out, s.qIndptr, s.qPos, s.tables[i % s.seqs]!, s.tableIndptr, s.ctx,
    H, KVH, D, BLOCK, 1 / Math.sqrt(D));
  for (let i = 0; i < s.seqs; i++) call(i);
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; samples.length < 15 || performance.now() - start < Number(flags.ms); i++) {
    const t0 = performance.now();
    call(i);
    samples.push((performance.now() - t0) / 1000);
  }
  return flags.stat === 'min' ? Math.min(...samples) : median(samples);
}
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

const loadBefore = load();
for (const kv of flags.kv.split(',') as ('f32' | 'bf16')[]) {
  const s = setup(kv);
  const secs: number[][] = [[], []], shares: number[][] = [[], []], ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const bw = builds[0]!.probeReadBandwidth(256 << 20, 2), f32 = builds[0]!.probeFlops('f32', 2_000_000);
    // probeFlops answers 0 without AVX-512: then the roofline is the bandwidth's alone.
    const roof = Math.max(s.kvBytes / (bw * 1e9), f32 > 0 ? s.flops / (f32 * 1e9) : 0);
    const order = round % 2 ? [0, 1] : [1, 0];
    const t = [0, 0];
    for (const i of order) t[i] = timeBuild(builds[i]!, s);
    for (const i of [0, 1]) {
      secs[i]!.push(t[i]!);
      shares[i]!.push(roof / t[i]!);
    }
    ratios.push(t[0]! / t[1]!);
  }
  const us = (x: number) => (x * 1e6).toFixed(1);
  console.log(`${kv} K/V, ${H}/${KVH} heads × ${D}, context ${CONTEXT}, ${TOKENS} query token(s), ${ROUNDS} interleaved rounds, ${flags.stat} of each round's calls:`);
  console.log(`  A ${us(median(secs[0]!))} µs (${(100 * median(shares[0]!)).toFixed(0)}% of roofline)  ` +
    `B ${us(median(secs[1]!))} µs (${(100 * median(shares[1]!)).toFixed(0)}% of roofline)  speedup B/A ${median(ratios).toFixed(2)}× ` +
    `(per-round ${ratios.map((r) => r.toFixed(2)).join(' ')})`);
}
console.log(`load average ${loadBefore} before, ${load()} after`);
