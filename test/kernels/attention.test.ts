// Native paged attention and KV slot writes against the TS reference, on every
// ISA path: ragged batches of 1–6 requests, GQA ratios 1–8, head dims 8–128
// (and 12), block sizes 1/4/8/16, shuffled non-contiguous block tables, and query
// positions that are a decode token, a prefill chunk, a recomputed prefix plus a
// new prompt ({0..k-1} ∪ {n..n+m-1}), or a random subset; decode row tiles and
// prefill lane tiles, split across 1–4 threads; sliding windows (Gemma's local layers) and
// attention-logit soft-capping, and that K/V before every row's window is never read.
//
// Tolerance: |native − reference| ≤ 1e-5·(1 + |reference|). Outputs are convex
// combinations of V rows in ±1; the native side sums in f32 with exp2 good to a
// couple of ulp, the reference in f64.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { bf16ToF32, f32ToBf16 } from '../../src/kernels/dtype.js';
import type { AttentionBatch, KvPool } from '../../src/kernels/types.js';
import { mulberry32 } from '../helpers/random.js';
import { assertClose, forEachIsa, type Isa } from './isa.js';


type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1)); // inclusive

function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function randomArray(rng: Rng, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = 2 * rng() - 1;
  return v;
}

type Pattern = 'decode' | 'prefill' | 'prefix+prompt' | 'subset';
const PATTERNS: Pattern[] = ['decode', 'prefill', 'prefix+prompt', 'subset'];

/** Query positions of one request with context length ctx. */
function positions(rng: Rng, pattern: Pattern, ctx: number): number[] {
  switch (pattern) {
    case 'decode':
      return [ctx - 1];
    case 'prefill': {
      const m = int(rng, 1, Math.min(ctx, 40));
      return Array.from({ length: m }, (_, i) => ctx - m + i);
    }
    case 'prefix+prompt': {
      // A dropped prefix {0..k-1} recomputed with a new prompt {n..ctx-1}.
      const m = int(rng, 1, Math.max(1, Math.floor(ctx / 3)));
      const n = ctx - m;
      const k = int(rng, 1, Math.max(1, Math.min(n, 30)));
      return [...Array.from({ length: k }, (_, i) => i), ...Array.from({ length: m }, (_, i) => n + i)];
    }
    case 'subset': {
      // Any order, possibly past the context end (such a row sees the whole context).
      const count = int(rng, 1, Math.min(ctx, 24));
      return Array.from({ length: count }, () => int(rng, 0, ctx + 3));
    }
  }
}

interface Shape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
}

interface Case {
  batch: AttentionBatch;
  q: Float32Array;
  kCache: KvPool;
  vCache: KvPool;
}

/** The same case over bf16 pools (each value rounded to nearest even). */
function bf16Case(c: Case): Case {
  const bits = (pool: KvPool) => Uint16Array.from(pool, (x) => f32ToBf16(x));
  return { ...c, kCache: bits(c.kCache), vCache: bits(c.vCache) };
}

/** A ragged batch over one pool; each request's blocks are a random, shuffled draw from the pool. */
function makeCase(rng: Rng, shape: Shape, opts: { requests?: number; maxCtx?: number; patterns?: Pattern[] } = {}): Case {
  const { numHeads, numKvHeads, headDim, blockSize } = shape;
  const R = opts.requests ?? int(rng, 1, 6);
  const maxCtx = opts.maxCtx ?? 150;
  const patterns = opts.patterns ?? PATTERNS;
  const ctxs = Array.from({ length: R }, () => int(rng, 1, maxCtx));
  // Tables may be longer than the context needs (blocks reserved ahead).
  const tableLens = ctxs.map((c) => Math.ceil((c + 4) / blockSize) + int(rng, 0, 2));
  const numBlocks = tableLens.reduce((a, b) => a + b, 0) + int(rng, 0, 5);
  const pool = shuffle(rng, Array.from({ length: numBlocks }, (_, i) => i));
  const tables: number[] = [];
  const tableIndptr = [0];
  const qIndptr = [0];
  const qPos: number[] = [];
  for (let r = 0; r < R; r++) {
    tables.push(...pool.splice(0, tableLens[r]!));
    tableIndptr.push(tables.length);
    qPos.push(...positions(rng, patterns[int(rng, 0, patterns.length - 1)]!, ctxs[r]!));
    qIndptr.push(qPos.length);
  }
  const poolFloats = numBlocks * numKvHeads * blockSize * headDim;
  return {
    batch: {
      numHeads, numKvHeads, headDim, blockSize, scale: 1 / Math.sqrt(headDim),
      qIndptr: Int32Array.from(qIndptr), qPos: Int32Array.from(qPos),
      blockTables: Int32Array.from(tables), blockTableIndptr: Int32Array.from(tableIndptr),
      contextLens: Int32Array.from(ctxs),
    },
    q: randomArray(rng, qPos.length * numHeads * headDim),
    kCache: randomArray(rng, poolFloats),
    vCache: randomArray(rng, poolFloats),
  };
}

/**
 * Decode requests with the given context lengths (one token at the context's end), then
 * requests of the given patterns: blocks drawn at random from one shuffled pool.
 */
function decodeCase(rng: Rng, shape: Shape, decodeCtxs: number[], others: { ctx: number; pattern: Pattern }[] = []): Case {
  const { numHeads, numKvHeads, headDim, blockSize } = shape;
  const requests = [...decodeCtxs.map((ctx) => ({ ctx, pattern: 'decode' as Pattern })), ...others];
  const tableLens = requests.map(({ ctx }) => Math.ceil((ctx + 4) / blockSize));
  const numBlocks = tableLens.reduce((a, b) => a + b, 0) + 3;
  const pool = shuffle(rng, Array.from({ length: numBlocks }, (_, i) => i));
  const tables: number[] = [], tableIndptr = [0], qIndptr = [0], qPos: number[] = [];
  requests.forEach(({ ctx, pattern }, r) => {
    tables.push(...pool.splice(0, tableLens[r]!));
    tableIndptr.push(tables.length);
    qPos.push(...positions(rng, pattern, ctx));
    qIndptr.push(qPos.length);
  });
  const poolFloats = numBlocks * numKvHeads * blockSize * headDim;
  return {
    batch: {
      numHeads, numKvHeads, headDim, blockSize, scale: 1 / Math.sqrt(headDim),
      qIndptr: Int32Array.from(qIndptr), qPos: Int32Array.from(qPos),
      blockTables: Int32Array.from(tables), blockTableIndptr: Int32Array.from(tableIndptr),
      contextLens: Int32Array.from(requests.map(({ ctx }) => ctx)),
    },
    q: randomArray(rng, qPos.length * numHeads * headDim),
    kCache: randomArray(rng, poolFloats),
    vCache: randomArray(rng, poolFloats),
  };
}

function runNative(c: Case): Float32Array {
  const out = new Float32Array(c.q.length).fill(NaN);
  nativeKernels.pagedAttention(c.batch, c.q, c.kCache, c.vCache, out);
  return out;
}

function runReference(c: Case): Float32Array {
  const out = new Float32Array(c.q.length);
  referenceKernels.pagedAttention(c.batch, c.q, c.kCache, c.vCache, out);
  return out;
}

const SHAPES: Shape[] = [
  { numHeads: 8, numKvHeads: 4, headDim: 16, blockSize: 16 }, // GQA 2
  { numHeads: 8, numKvHeads: 8, headDim: 8, blockSize: 16 }, // MHA, stories260K's head size
  { numHeads: 4, numKvHeads: 1, headDim: 64, blockSize: 16 }, // GQA 4
  { numHeads: 14, numKvHeads: 2, headDim: 64, blockSize: 16 }, // GQA 7 (Qwen2.5-0.5B)
  { numHeads: 8, numKvHeads: 2, headDim: 128, blockSize: 16 }, // GQA 4, Llama-sized heads
  { numHeads: 6, numKvHeads: 3, headDim: 12, blockSize: 4 }, // odd head size
  { numHeads: 7, numKvHeads: 1, headDim: 16, blockSize: 1 }, // GQA 7, one token per block
  { numHeads: 4, numKvHeads: 2, headDim: 20, blockSize: 5 }, // block size not a power of two
];

const defaultThreads = addon.cpuInfo().threads;
after(() => {
  addon.setMaxIsa('avx512');
  addon.setThreads(defaultThreads);
});

describe('pagedAttention', () => {
  for (const shape of SHAPES) {
    const name = `H=${shape.numHeads}/${shape.numKvHeads} D=${shape.headDim} block=${shape.blockSize}`;
    it(`matches the reference on random ragged batches (${name})`, () => {
      const rng = mulberry32(shape.numHeads * 1000 + shape.headDim * 10 + shape.blockSize);
      for (let trial = 0; trial < 4; trial++) {
        const c = makeCase(rng, shape);
        const expected = runReference(c);
        forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, trial ${trial}`));
      }
    });
  }

  for (const shape of SHAPES) {
    const name = `H=${shape.numHeads}/${shape.numKvHeads} D=${shape.headDim} block=${shape.blockSize}`;
    it(`over bf16 pools matches the reference on random ragged batches (${name})`, () => {
      const rng = mulberry32(shape.numHeads * 1000 + shape.headDim * 10 + shape.blockSize + 1);
      for (let trial = 0; trial < 2; trial++) {
        const c = bf16Case(makeCase(rng, shape));
        const expected = runReference(c);
        forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, trial ${trial}`));
      }
    });
  }

  it('over bf16 pools equals attention over f32 pools holding the same (rounded) values', () => {
    // Within the kernels' tolerance, not bit for bit: decode row tiles read a bf16 row's
    // even and odd elements as separate vectors (load_chunk in attention_rows_inl.h), so
    // they sum a dot product in another order than over f32 rows.
    const rng = mulberry32(77);
    const c16 = bf16Case(makeCase(rng, SHAPES[3]!, { requests: 4, maxCtx: 700 }));
    const c32 = { ...c16, kCache: Float32Array.from(c16.kCache, bf16ToF32), vCache: Float32Array.from(c16.vCache, bf16ToF32) };
    forEachIsa((isa) => assertClose(runNative(c16), runNative(c32), isa));
  });

  it('matches the reference for each query pattern alone', () => {
    const rng = mulberry32(7);
    for (const pattern of PATTERNS) {
      const c = makeCase(rng, SHAPES[3]!, { requests: 3, patterns: [pattern] });
      const expected = runReference(c);
      forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, ${pattern}`));
    }
  });

  it('splits long decode contexts across threads and merges the slices into the one-pass result', () => {
    // Few requests × KV heads and thousands of keys: the kernel cuts key ranges
    // into slices (flash-decoding) and combines them; more threads, more slices.
    const rng = mulberry32(11);
    for (const threads of [1, 2, 4]) {
      addon.setThreads(threads);
      for (const shape of [SHAPES[2]!, SHAPES[3]!]) {
        const c = makeCase(rng, shape, { requests: int(rng, 1, 2), maxCtx: 3000, patterns: ['decode', 'subset'] });
        const expected = runReference(c);
        forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, ${threads} threads`));
      }
    }
    addon.setThreads(defaultThreads);
  });

  it('row tiles (≤ 8 query rows) split across threads match the reference at contexts around the split and step boundaries', () => {
    // Decode tokens of GQA groups 1..8 take the row-tile kernel (head-dim in lanes); long
    // contexts are cut into key slices (flash-decoding) and merged. Contexts sit on either side
    // of a 32-key step, a 16-row block and the 512-key minimum slice; the same case must come
    // out the same (within tolerance) with 1, 2 and 4 threads, f32 and bf16 pools.
    const rng = mulberry32(31);
    const ctxs = [1, 31, 33, 511, 512, 513, 1025, 2047];
    for (const group of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const shape = { numHeads: 2 * group, numKvHeads: 2, headDim: group % 2 ? 64 : 16, blockSize: 16 };
      const base = decodeCase(rng, shape, [ctxs[group - 1]!, ctxs[(group + 3) % ctxs.length]!]);
      for (const c of [base, bf16Case(base)]) {
        const expected = runReference(c);
        for (const threads of [1, 2, 4]) {
          addon.setThreads(threads);
          forEachIsa((isa) => assertClose(runNative(c), expected, `group ${group}, ${c.kCache instanceof Uint16Array ? 'bf16' : 'f32'}, ${isa}, ${threads} threads`));
        }
      }
    }
    addon.setThreads(defaultThreads);
  });

  it('mixes decode row tiles with prefill lane tiles at non-contiguous positions in one batch', () => {
    const rng = mulberry32(32);
    for (const threads of [1, 2]) {
      addon.setThreads(threads);
      for (const shape of [SHAPES[2]!, SHAPES[3]!, SHAPES[4]!, { numHeads: 4, numKvHeads: 4, headDim: 32, blockSize: 8 }]) {
        // Two long decodes, then a recomputed prefix plus a new prompt and a random subset.
        const c = decodeCase(rng, shape, [1500, 700], [{ ctx: 300, pattern: 'prefix+prompt' }, { ctx: 90, pattern: 'subset' }]);
        const expected = runReference(c);
        forEachIsa((isa) => assertClose(runNative(c), expected, `H=${shape.numHeads}/${shape.numKvHeads}, ${isa}, ${threads} threads`));
      }
    }
    addon.setThreads(defaultThreads);
  });

  it('gives zeros for a request with an empty context', () => {
    const shape = SHAPES[0]!;
    const c = makeCase(mulberry32(3), shape, { requests: 2 });
    c.batch.contextLens[1] = 0;
    const expected = runReference(c);
    forEachIsa((isa) => assertClose(runNative(c), expected, isa));
  });

  it('masks by position: K/V past a row’s position do not change that row', () => {
    const shape = SHAPES[3]!;
    const rng = mulberry32(5);
    const c = makeCase(rng, shape, { requests: 1, maxCtx: 120, patterns: ['prefill'] });
    const { numHeads, numKvHeads, headDim, blockSize, blockTables, qPos, contextLens } = c.batch;
    const row = 0; // the earliest query position of the chunk
    const p = qPos[row]!;
    const rowFloats = numHeads * headDim;
    forEachIsa((isa) => {
      const before = runNative(c).slice(row * rowFloats, (row + 1) * rowFloats);
      const k = c.kCache.slice(), v = c.vCache.slice();
      const changed = { ...c, kCache: k, vCache: v };
      for (let pos = p + 1; pos < contextLens[0]!; pos++) {
        const block = blockTables[Math.floor(pos / blockSize)]!;
        for (let h = 0; h < numKvHeads; h++) {
          const base = ((block * numKvHeads + h) * blockSize + (pos % blockSize)) * headDim;
          for (let d = 0; d < headDim; d++) {
            k[base + d] = 50 * (2 * rng() - 1);
            v[base + d] = 50 * (2 * rng() - 1);
          }
        }
      }
      const after = runNative(changed).slice(row * rowFloats, (row + 1) * rowFloats);
      assert.deepEqual(after, before, isa);
    });
  });

  describe('sliding window and soft-capping', () => {
    // Windows smaller than a block, across block and 16/32-key step boundaries, and wider than
    // the context; soft-caps that bite (scores of ±1·scale·D are squeezed hard by cap 0.5).
    const windows = [1, 3, 16, 17, 40, 100, 4096];
    const caps = [0, 0.5, 50];
    const withWindow = (c: Case, slidingWindow: number, softcap: number): Case => ({ ...c, batch: { ...c.batch, slidingWindow, softcap } });

    for (const shape of [SHAPES[0]!, SHAPES[3]!, SHAPES[4]!, SHAPES[5]!, SHAPES[6]!]) {
      const name = `H=${shape.numHeads}/${shape.numKvHeads} D=${shape.headDim} block=${shape.blockSize}`;
      it(`matches the reference on random ragged batches (${name})`, () => {
        const rng = mulberry32(shape.numHeads * 1000 + shape.headDim * 10 + shape.blockSize + 5);
        for (const window of windows) {
          const cap = caps[int(rng, 0, caps.length - 1)]!;
          const base = makeCase(rng, shape, { maxCtx: 200 });
          for (const c of [withWindow(base, window, cap), bf16Case(withWindow(base, window, cap))]) {
            const expected = runReference(c);
            forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, window ${window}, cap ${cap}`));
          }
        }
      });
    }

    it('soft-capping alone matches the reference, decode row tiles and prefill lane tiles', () => {
      const rng = mulberry32(41);
      for (const cap of [0.5, 5, 50]) {
        const c = withWindow(decodeCase(rng, SHAPES[3]!, [700, 40], [{ ctx: 120, pattern: 'prefill' }]), 0, cap);
        const expected = runReference(c);
        forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, cap ${cap}`));
      }
    });

    it('long windowed decodes split across threads match the reference', () => {
      const rng = mulberry32(42);
      for (const threads of [1, 2, 4]) {
        addon.setThreads(threads);
        for (const window of [600, 1500]) {
          const c = withWindow(decodeCase(rng, SHAPES[2]!, [3000, 2000], [{ ctx: 2500, pattern: 'prefix+prompt' }]), window, 30);
          const expected = runReference(c);
          forEachIsa((isa) => assertClose(runNative(c), expected, `${isa}, ${threads} threads, window ${window}`));
        }
      }
      addon.setThreads(defaultThreads);
    });

    it('never reads K/V before every row’s window: NaN there and unallocated blocks change nothing', () => {
      const rng = mulberry32(43);
      for (const shape of [SHAPES[3]!, SHAPES[0]!]) {
        const window = 24;
        const c = withWindow(decodeCase(rng, shape, [400, 333], [{ ctx: 300, pattern: 'prefill' }]), window, 0);
        const expected = runReference(c);
        const { numKvHeads, headDim, blockSize, blockTables, blockTableIndptr, qIndptr, qPos } = c.batch;
        const k = c.kCache.slice(), v = c.vCache.slice();
        const tables = blockTables.slice();
        for (let r = 0; r + 1 < qIndptr.length; r++) {
          let first = Infinity;
          for (let t = qIndptr[r]!; t < qIndptr[r + 1]!; t++) first = Math.min(first, Math.max(0, qPos[t]! - window + 1));
          const table = blockTables.subarray(blockTableIndptr[r]!, blockTableIndptr[r + 1]!);
          for (let pos = 0; pos < first; pos++) {
            for (let h = 0; h < numKvHeads; h++) {
              const base = ((table[Math.floor(pos / blockSize)]! * numKvHeads + h) * blockSize + (pos % blockSize)) * headDim;
              k.fill(Number.NaN, base, base + headDim);
              v.fill(Number.NaN, base, base + headDim);
            }
          }
          // Blocks wholly before the window need not be allocated at all.
          for (let b = 0; b < Math.floor(first / blockSize); b++) tables[blockTableIndptr[r]! + b] = -1;
        }
        const poisoned = { ...c, kCache: k, vCache: v };
        const unallocated = { ...poisoned, batch: { ...c.batch, blockTables: tables } };
        forEachIsa((isa) => {
          assertClose(runNative(poisoned), expected, `${isa}, NaN before the window`);
          assertClose(runNative(unallocated), expected, `${isa}, blocks before the window unallocated`);
        });
      }
    });

    it('a window of 1 sees only the row’s own position', () => {
      const rng = mulberry32(44);
      const c = withWindow(makeCase(rng, SHAPES[2]!, { requests: 2, maxCtx: 60, patterns: ['prefill'] }), 1, 0);
      const { numHeads, numKvHeads, headDim, blockSize, blockTables, blockTableIndptr, qIndptr, qPos } = c.batch;
      const out = runNative(c);
      for (let r = 0; r < 2; r++) {
        for (let t = qIndptr[r]!; t < qIndptr[r + 1]!; t++) {
          const p = qPos[t]!;
          const block = blockTables[blockTableIndptr[r]! + Math.floor(p / blockSize)]!;
          for (let h = 0; h < numHeads; h++) {
            const base = ((block * numKvHeads + Math.floor(h / (numHeads / numKvHeads))) * blockSize + (p % blockSize)) * headDim;
            assertClose(out.subarray((t * numHeads + h) * headDim, (t * numHeads + h + 1) * headDim), c.vCache.subarray(base, base + headDim) as Float32Array, `row ${t} head ${h}`);
          }
        }
      }
    });

    it('rejects a negative or fractional window and a negative soft-cap', () => {
      const c = makeCase(mulberry32(45), SHAPES[0]!, { requests: 1 });
      for (const [window, cap] of [[-1, 0], [2.5, 0], [0, -1], [0, Number.NaN]] as const) {
        assert.throws(() => runNative(withWindow(c, window, cap)), RangeError, `window ${window}, cap ${cap}`);
      }
    });
  });

  describe('rejects inconsistent batches with a RangeError', () => {
    const shape = SHAPES[0]!;
    const fresh = () => makeCase(mulberry32(9), shape, { requests: 2, patterns: ['prefill'] });
    const expectRangeError = (mutate: (c: Case) => Case | void, message: RegExp) => {
      const c = fresh();
      const bad = mutate(c) ?? c;
      assert.throws(() => runNative(bad), (err: unknown) => err instanceof RangeError && message.test(err.message));
    };

    it('a block id outside the pool', () =>
      expectRangeError((c) => {
        c.batch.blockTables[c.batch.blockTableIndptr[1]!] = c.kCache.length / (shape.numKvHeads * shape.blockSize * shape.headDim);
      }, /outside the pool/));
    it('a negative block id', () => expectRangeError((c) => void (c.batch.blockTables[0] = -1), /outside the pool/));
    it('qIndptr that decreases', () =>
      expectRangeError((c) => {
        c.batch.qIndptr[1] = c.batch.qIndptr[2]! + 1;
      }, /qIndptr/));
    it('qIndptr whose end is not the number of q rows', () =>
      expectRangeError((c) => ({ ...c, q: c.q.subarray(0, c.q.length - shape.numHeads * shape.headDim) }), /q has/));
    it('qIndptr not starting at 0', () => expectRangeError((c) => void (c.batch.qIndptr[0] = 1), /qIndptr\[0\]/));
    it('a block table too short for a position', () =>
      expectRangeError((c) => {
        c.batch.qPos[0] = c.batch.contextLens[0]! + 100;
        c.batch.contextLens[0] = c.batch.qPos[0]! + 1;
      }, /block table has/));
    it('a negative position', () => expectRangeError((c) => void (c.batch.qPos[0] = -1), /negative/));
    it('a pool that is not whole blocks', () =>
      expectRangeError((c) => ({ ...c, kCache: c.kCache.subarray(1), vCache: c.vCache.subarray(1) }), /whole number of blocks/));
    it('numHeads not a multiple of numKvHeads', () =>
      expectRangeError((c) => ({ ...c, batch: { ...c.batch, numKvHeads: 3 } }), /multiple/));
    it('blockTableIndptr past the end of blockTables', () =>
      expectRangeError((c) => void (c.batch.blockTableIndptr[2] = c.batch.blockTables.length + 1), /blockTableIndptr/));

    it('a wrong array type is a TypeError', () => {
      const c = fresh();
      assert.throws(
        () => addon.pagedAttention(c.q, c.kCache, c.vCache, new Float32Array(c.q.length),
          new Uint32Array(c.batch.qIndptr) as unknown as Int32Array, c.batch.qPos, c.batch.blockTables,
          c.batch.blockTableIndptr, c.batch.contextLens, 8, 4, 16, 16, 0.25),
        TypeError,
      );
    });
  });
});

describe('writeKV', () => {
  it('writes each token’s K/V into its slot, skips negative slots, and attention then matches the reference', () => {
    const rng = mulberry32(21);
    for (const shape of [SHAPES[3]!, SHAPES[5]!, SHAPES[6]!]) {
      const { numKvHeads, headDim, blockSize } = shape;
      const c = makeCase(rng, shape, { requests: 3 });
      // New tokens: every query position of each request (unique), some skipped.
      const slots: number[] = [];
      for (let r = 0; r < 3; r++) {
        const table = c.batch.blockTables.subarray(c.batch.blockTableIndptr[r]!, c.batch.blockTableIndptr[r + 1]!);
        const seen = new Set<number>();
        for (let t = c.batch.qIndptr[r]!; t < c.batch.qIndptr[r + 1]!; t++) {
          const p = c.batch.qPos[t]!;
          const fresh = p < c.batch.contextLens[r]! && !seen.has(p) && rng() > 0.2;
          seen.add(p);
          slots.push(fresh ? table[Math.floor(p / blockSize)]! * blockSize + (p % blockSize) : -1);
        }
      }
      const T = slots.length;
      const k = randomArray(rng, T * numKvHeads * headDim), v = randomArray(rng, T * numKvHeads * headDim);
      const slotMapping = Int32Array.from(slots);
      const refK = c.kCache.slice(), refV = c.vCache.slice();
      referenceKernels.writeKV(k, v, slotMapping, refK, refV, numKvHeads, headDim, blockSize);
      nativeKernels.writeKV(k, v, slotMapping, c.kCache, c.vCache, numKvHeads, headDim, blockSize);
      assert.deepEqual(c.kCache, refK);
      assert.deepEqual(c.vCache, refV);
      const expected = runReference(c);
      forEachIsa((isa) => assertClose(runNative(c), expected, isa));
    }
  });

  it('rounds into bf16 pools exactly as the reference does, and attention then matches it', () => {
    const rng = mulberry32(22);
    const shape = SHAPES[3]!;
    const { numKvHeads, headDim, blockSize } = shape;
    const c = bf16Case(makeCase(rng, shape, { requests: 2, patterns: ['prefill'] }));
    const slots = Int32Array.from({ length: 5 }, (_, t) => c.batch.blockTables[t % 2]! * blockSize + t);
    const k = randomArray(rng, 5 * numKvHeads * headDim), v = randomArray(rng, 5 * numKvHeads * headDim);
    k[3] = Number.NaN;  // NaN stays NaN
    const refK = c.kCache.slice(), refV = c.vCache.slice();
    referenceKernels.writeKV(k, v, slots, refK, refV, numKvHeads, headDim, blockSize);
    nativeKernels.writeKV(k, v, slots, c.kCache, c.vCache, numKvHeads, headDim, blockSize);
    assert.deepEqual(c.kCache, refK);
    assert.deepEqual(c.vCache, refV);
    k[3] = 0;
    const c2 = { ...c, kCache: refK.fill(0) };
    nativeKernels.writeKV(k, v, slots, c2.kCache, c.vCache, numKvHeads, headDim, blockSize);
    forEachIsa((isa) => assertClose(runNative(c2), runReference(c2), isa));
  });

  it('rejects pools of different or unsupported element types', () => {
    const kCache = new Float32Array(2 * 16 * 8), k = new Float32Array(2 * 8);
    assert.throws(() => addon.writeKV(k, k, Int32Array.of(0), kCache, new Uint16Array(kCache.length), 2, 8, 16), /same element type/);
    assert.throws(() => addon.writeKV(k, k, Int32Array.of(0), new Int32Array(kCache.length) as unknown as Float32Array, kCache, 2, 8, 16), TypeError);
  });

  it('rejects a slot outside the pool or a k of the wrong size, leaving the pool untouched', () => {
    const kCache = new Float32Array(4 * 2 * 16 * 8), vCache = new Float32Array(kCache.length);
    const k = new Float32Array(2 * 2 * 8).fill(1), v = k.slice();
    assert.throws(() => nativeKernels.writeKV(k, v, Int32Array.of(3, 64), kCache, vCache, 2, 8, 16), RangeError);
    assert.ok(kCache.every((x) => x === 0), 'no partial write');
    assert.throws(() => nativeKernels.writeKV(k.subarray(1), v, Int32Array.of(3, 4), kCache, vCache, 2, 8, 16), RangeError);
    assert.throws(() => nativeKernels.writeKV(k, v, Int32Array.of(3, 4), kCache.subarray(1), vCache, 2, 8, 16), RangeError);
  });
});
