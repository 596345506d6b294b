// "A mixture of experts decodes faster than a dense model of its total size": decode tok/s of a
// MoE shape (default Qwen3-30B-A3B, cut to a few layers) beside a dense twin with the same
// attention and the same total FFN parameters (intermediate_size = experts × expert width), both
// q8_0, one sequence, greedy, one token a step. A decode step streams every weight of the dense
// FFN but only the chosen experts of the MoE one (feed-forward.ts), so the MoE should win by
// about the ratio of weight bytes each step reads, which the report prints beside the speeds.
//
//   npx tsx bench/moe-decode.ts [--config FILE] [--layers N] [--vocab N] [--steps N] [--context N] [--threads N]
//
// Weights are random q8_0 blocks written straight into memory (random int8 quants, one scale),
// not generated as floats and quantized: speed does not depend on their values, and a real-sized
// model is ready in seconds. The router is random f32, so tokens spread over the experts much as
// a trained router spreads them. Time it on a quiet machine; run both halves in one process, as
// here, so they see the same machine.
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ModelRunner } from '../src/engine/model-runner.js';
import { byteSize, fromFloat32 } from '../src/kernels/dtype.js';
import { defaultKernels } from '../src/kernels/index.js';
import type { Kernels } from '../src/kernels/types.js';
import { architecture } from '../src/model/architectures/index.js';
import { configFromHf, type ModelConfig } from '../src/model/config.js';
import { MemoryTensorStore } from '../src/model/formats/memory-tensor-store.js';
import { elementCount, type RawTensor } from '../src/model/formats/tensor.js';
import { KvCache } from '../src/model/kv-cache.js';
import { expectedTensorShapes } from '../src/model/tensor-names.js';
import { Transformer } from '../src/model/transformer.js';
import { loadWeights } from '../src/model/weights.js';
import { randomF32 } from './timing.js';

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string', default: new URL('../../shared/models/configs/Qwen3-30B-A3B.json', import.meta.url).pathname },
    layers: { type: 'string', default: '4' },
    vocab: { type: 'string' },
    steps: { type: 'string', default: '32' },
    context: { type: 'string', default: '64' },
    threads: { type: 'string' },
  },
});

const full = configFromHf(JSON.parse(fs.readFileSync(flags.config, 'utf8')), flags.config);
if (!full.moe) throw new Error(`${flags.config} is not a mixture of experts`);
const moeConfig: ModelConfig = {
  ...full,
  numLayers: Math.min(Number(flags.layers), full.numLayers),
  vocabSize: flags.vocab ? Number(flags.vocab) : full.vocabSize,
  bosTokenId: null,
  eosTokenIds: [],
};
// The dense twin: the attention of the same family without experts, one FFN as wide as all of them.
const denseFamily = { qwen3moe: 'qwen3', mixtral: 'llama' } as const;
const { moe, ...rest } = moeConfig;
const denseConfig: ModelConfig = {
  ...rest,
  architecture: denseFamily[moeConfig.architecture as keyof typeof denseFamily],
  intermediateSize: moe!.numExperts * moe!.expertIntermediateSize,
};
if (!denseConfig.architecture || architecture(denseConfig.architecture).experts) throw new Error(`no dense twin for ${moeConfig.architecture}`);

const kernels = await defaultKernels();
if (flags.threads) kernels.setThreads(Number(flags.threads));

/** Random q8_0 blocks: int8 quants uniform in [-128, 127] under one f16 scale (values of std ≈ 0.02). */
function q8Tensor(name: string, shape: number[]): RawTensor {
  const data = randomFillSync(new Uint8Array(byteSize('q8_0', elementCount(shape))));
  const scale = fromFloat32('f16', Float32Array.of(0.02 / 74));
  for (let b = 0; b < data.length; b += 34) data.set(scale, b);
  return { name, dtype: 'q8_0', shape, data };
}

function randomModel(config: ModelConfig): MemoryTensorStore {
  const router = architecture(config.architecture).experts?.router;
  const tensors = [...expectedTensorShapes(config)].map(([name, shape], i): RawTensor => {
    if (shape.length === 1) return { name, dtype: 'f32', shape, data: fromFloat32('f32', new Float32Array(shape[0]!).fill(1)) };
    if (router && name.endsWith(router)) return { name, dtype: 'f32', shape, data: fromFloat32('f32', randomF32(elementCount(shape), i + 1)) };
    return q8Tensor(name, shape);
  });
  return new MemoryTensorStore('random', tensors);
}

interface Result { label: string; params: number; streamed: number; tokPerS: number; msPerToken: number }

/** Decode speed of `config`: prefill `context` tokens, then `steps` greedy steps timed one by one (median). */
function decode(label: string, config: ModelConfig): Result {
  const store = randomModel(config);
  const weights = loadWeights(config, store, kernels, { format: 'auto' });
  store.close();
  const blockSize = 16;
  const context = Number(flags.context), steps = Number(flags.steps);
  const blocks = Math.ceil((context + steps + 1) / blockSize);
  const runner = new ModelRunner(new Transformer(config, weights, kernels), new KvCache(config, blocks, blockSize, 'bf16'));
  const table = Array.from({ length: blocks }, (_, i) => i);
  const prompt = Array.from({ length: context }, (_, i) => (i * 7919) % config.vocabSize);
  let next = runner.argmax(runner.step([{ tokens: prompt, positions: prompt.map((_, i) => i), blockTable: table, contextLen: context, logits: 'last' }])[0]!);
  const times: number[] = [];
  for (let pos = context; pos < context + steps; pos++) {
    const t0 = performance.now();
    next = runner.argmax(runner.step([{ tokens: [next], positions: [pos], blockTable: table, contextLen: pos + 1, logits: 'last' }])[0]!);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)]!;
  return { label, params: paramCount(config, false), streamed: paramCount(config, true), tokPerS: 1000 / ms, msPerToken: ms };
}

/** Parameters of the model, or those one decode step reads (the chosen experts only; the embedding is a row lookup). */
function paramCount(config: ModelConfig, perToken: boolean): number {
  let n = 0;
  for (const [name, shape] of expectedTensorShapes(config)) {
    if (perToken && name === 'model.embed_tokens.weight' && !config.tieWordEmbeddings) continue;
    n += elementCount(shape);
  }
  if (perToken && config.moe) {
    const { numExperts, numExpertsPerTok, expertIntermediateSize } = config.moe;
    n -= config.numLayers * (numExperts - numExpertsPerTok) * 3 * config.hiddenSize * expertIntermediateSize;
  }
  return n;
}

const results: Result[] = [];
for (const [label, config] of [['moe', moeConfig], ['dense twin', denseConfig]] as const) {
  process.stderr.write(`${label}: ${config.architecture}, ${config.numLayers} layers, ${(paramCount(config, false) / 1e9).toFixed(2)}B parameters, q8_0 ...\n`);
  results.push(decode(label, config));
}
const m = moeConfig.moe!;
console.log(`${flags.config}: ${moeConfig.numLayers} layers, vocab ${moeConfig.vocabSize}, ${m.numExperts} experts of ${m.expertIntermediateSize}, top ${m.numExpertsPerTok}; `
  + `dense twin intermediate_size ${denseConfig.intermediateSize}; q8_0; context ${flags.context}; ${kernels.name} kernels`);
for (const r of results) {
  console.log(`  ${r.label.padEnd(10)} ${(r.params / 1e9).toFixed(2)}B params, ${(r.streamed / 1e9).toFixed(2)}B read per token: `
    + `${r.tokPerS.toFixed(1)} tok/s (median ${r.msPerToken.toFixed(1)} ms/token)`);
}
const [a, b] = results as [Result, Result];
console.log(`  moe / dense: ${(a.tokPerS / b.tokPerS).toFixed(2)}× the speed for ${(b.streamed / a.streamed).toFixed(2)}× fewer weights read per token`);
