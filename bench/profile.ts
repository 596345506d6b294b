// Where a forward pass spends its time, kernel by kernel (wall time of each Kernels call,
// summed over a few timed steps). Profile before optimizing: this is the first look, `perf`
// the second.
//
//   npx tsx bench/profile.ts [--model FILE.gguf] [--batch N] [--context N] [--steps N] [--prefill N] [--kv-dtype auto|f32|bf16]
//                            [--isa avx512|avx2|scalar]
//
// --batch N: N sequences decoding together (one token each per step) at --context tokens;
// --prefill N: one prompt of N tokens instead.
import { parseArgs } from 'node:util';
import { defaultKernels } from '../src/kernels/index.js';
import { addon } from '../src/kernels/native.js';
import type { Kernels, Matrix } from '../src/kernels/types.js';
import { ModelRunner, type SequenceStep } from '../src/engine/model-runner.js';
import { resolveKvDType } from '../src/engine/engine.js';
import { KvCache, type KvDType } from '../src/model/kv-cache.js';
import { loadModel } from '../src/model/load.js';
import { stackMatrices } from '../src/model/matrix-stack.js';
import { ffnMatrices } from '../src/model/weights.js';
import { packedBytesPerValue } from './timing.js';

const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: '.pensieve/bench/Qwen2.5-0.5B-Instruct-bf16.gguf' },
    batch: { type: 'string', default: '1' },
    context: { type: 'string', default: '128' },
    steps: { type: 'string', default: '8' },
    prefill: { type: 'string' },
    'kv-dtype': { type: 'string', default: 'auto' },
    isa: { type: 'string' },
  },
});

/** Wraps every kernel method with a wall-clock accumulator. */
const matrixBytes = (m: Matrix) => m.rows * m.cols * packedBytesPerValue(m.dtype);

function timed(inner: Kernels): { kernels: Kernels; totals: Map<string, { ms: number; calls: number; bytes: number }> } {
  const totals = new Map<string, { ms: number; calls: number; bytes: number }>();
  const kernels = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        // Matmuls by weight shape: which projection takes the time (and how close to the probe).
        const w = prop === 'matmul' || prop === 'matmulSplit' ? (args[0] as Matrix) : null;
        const key = w ? `${prop} ${w.rows}x${w.cols} ${w.dtype}` : prop;
        const t = totals.get(key) ?? { ms: 0, calls: 0, bytes: 0 };
        t.ms += performance.now() - t0;
        t.calls++;
        if (w) t.bytes += matrixBytes(w);
        totals.set(key, t);
        return r;
      };
    },
  });
  return { kernels, totals };
}

// --isa: the kernels' highest instruction set (set before loading, as packing may depend on it).
if (flags.isa !== undefined) console.log(`ISA: ${addon.setMaxIsa(flags.isa as 'avx512' | 'avx2' | 'scalar')}`);
const { kernels, totals } = timed(await defaultKernels());
const loaded = await loadModel(flags.model, { kernels, weightFormat: 'auto' });
const c = loaded.config;
const BLOCK = 16;
const batch = Number(flags.batch), context = Number(flags.context), steps = Number(flags.steps);
const prefill = flags.prefill ? Number(flags.prefill) : 0;
const perSeq = Math.ceil((Math.max(context + steps, prefill) + 1) / BLOCK);
const kvDType = resolveKvDType(flags['kv-dtype'] as KvDType | 'auto', loaded);
const kv = new KvCache(c, perSeq * batch, BLOCK, kvDType);
const runner = new ModelRunner(loaded.transformer, kv);
const table = (s: number, n: number) => Array.from({ length: Math.ceil(n / BLOCK) }, (_, i) => s * perSeq + i);
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const prompt = (n: number, s: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 7919 + s * 31) % 30000));
const step = (s: number, tokens: number[], from: number): SequenceStep => ({
  tokens, positions: range(from, tokens.length), blockTable: table(s, from + tokens.length), contextLen: from + tokens.length, logits: 'last',
});

const bwBefore = addon.probeReadBandwidth(512 << 20, 3);
let wall = 0;
let tokensDone = 0;
if (prefill) {
  runner.step([step(0, prompt(prefill, 0), 0)]);  // warm-up
  totals.clear();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    runner.step([step(0, prompt(prefill, i), 0)]);
    wall += performance.now() - t0;
  }
  tokensDone = steps * prefill;
} else {
  runner.step(Array.from({ length: batch }, (_, s) => step(s, prompt(context, s), 0)));
  totals.clear();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    runner.step(Array.from({ length: batch }, (_, s) => step(s, [1000 + s], context + i)));
    wall += performance.now() - t0;
  }
  tokensDone = steps * batch;
}
const bw = (bwBefore + addon.probeReadBandwidth(512 << 20, 3)) / 2;
const kernelMs = [...totals.values()].reduce((a, t) => a + t.ms, 0);
const w = loaded.transformer.weights;
const weightBytes = matrixBytes(w.lmHead) + w.layers.reduce((n, l) => n + [...stackMatrices(l.wqkv), l.wo, ...ffnMatrices(l.ffn)].reduce((a, m) => a + matrixBytes(m), 0), 0);
console.log(`${flags.model}: ${prefill ? `prefill ${prefill}` : `decode batch ${batch} at context ${context}`}, ${kvDType} KV, ${steps} steps`);
console.log(`wall ${(wall / steps).toFixed(2)} ms/step, ${(tokensDone / (wall / 1000)).toFixed(1)} tok/s; outside kernels ${((wall - kernelMs) / steps).toFixed(2)} ms/step`);
console.log(`weights ${(weightBytes / 1e6).toFixed(0)} MB: ${(weightBytes / (wall / steps) / 1e6).toFixed(1)} GB/s a step; read-bandwidth probe ${bw.toFixed(1)} GB/s`);
console.log('| kernel | ms/step | calls/step | share | weight GB/s |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) {
  const gbps = t.bytes > 0 ? (t.bytes / t.ms / 1e6).toFixed(1) : '';
  console.log(`| ${name} | ${(t.ms / steps).toFixed(3)} | ${(t.calls / steps).toFixed(0)} | ${((100 * t.ms) / wall).toFixed(1)}% | ${gbps} |`);
}
