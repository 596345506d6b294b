// Pensieve's side of bench/kernels.ts: the forward pass (Transformer over a paged KV cache,
// through the engine's ModelRunner) timed on the workloads llama.cpp is timed on. Each
// sequence owns a fixed run of KV blocks; what the cache holds does not change the time.
import { ModelRunner, type SequenceStep } from '../src/engine/model-runner.js';
import { resolveKvDType } from '../src/engine/engine.js';
import { KvCache, type KvDType } from '../src/model/kv-cache.js';
import { loadModel } from '../src/model/load.js';
import type { ModelConfig } from '../src/model/config.js';
import type { WeightFormat } from '../src/model/weights.js';
import type { EngineUnderTest } from './kernels-types.js';

const BLOCK = 16;

/** KV blocks loadOurs allocates: the long sequence's, then `seqContext` tokens for each other one. */
export function kvBlocksFor(maxSeqs: number, seqContext: number, longContext: number): number {
  return Math.ceil(longContext / BLOCK) + (maxSeqs - 1) * Math.ceil(seqContext / BLOCK);
}

/**
 * Sequence 0 has room for `longContext` tokens (prompts); sequences 1 .. maxSeqs-1 for
 * `seqContext` each (batched decode), so the KV pools stay small.
 */
export async function loadOurs(
  path: string, weightFormat: WeightFormat, maxSeqs: number, seqContext: number, longContext: number,
): Promise<EngineUnderTest & { config: ModelConfig; kvDType: KvDType }> {
  const loaded = await loadModel(path, { weightFormat });
  const longBlocks = Math.ceil(longContext / BLOCK), seqBlocks = Math.ceil(seqContext / BLOCK);
  // The KV dtype a server picks for these weights (--kv-dtype auto: bf16 for bf16 and q8_0).
  const kvDType = resolveKvDType('auto', loaded);
  const kv = new KvCache(loaded.config, kvBlocksFor(maxSeqs, seqContext, longContext), BLOCK, kvDType);
  const runner = new ModelRunner(loaded.transformer, kv);
  const table = (s: number, tokens: number) => {
    const base = s === 0 ? 0 : longBlocks + (s - 1) * seqBlocks;
    return Array.from({ length: Math.ceil(tokens / BLOCK) }, (_, i) => base + i);
  };
  // Token ids spread over the vocabulary (up to 30000 ids, so tiny test models work too).
  const spread = Math.min(30000, loaded.config.vocabSize - 100);
  const promptOf = (n: number, salt: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 7919 + salt * 31) % spread));
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const prefillStep = (s: number, n: number, logits: SequenceStep['logits']): SequenceStep => ({
    tokens: promptOf(n, s), positions: range(0, n), blockTable: table(s, n), contextLen: n, logits,
  });

  return {
    name: 'pensieve',
    config: loaded.config,
    kvDType,
    async prefill(n) {
      // One untimed run first, as llama-bench warms up before each measurement: the first
      // prefill of a size grows the activation scratch and touches its pages.
      runner.step([prefillStep(0, n, 'last')]);
      const t0 = performance.now();
      runner.step([prefillStep(0, n, 'last')]);
      return (performance.now() - t0) / 1000;
    },
    async batchedDecode(sequences, context, steps) {
      const seqs = Array.from({ length: sequences }, (_, s) => prefillStep(s, context, 'last'));
      return decodeLoop(runner, seqs, context, steps, table, runner.argmax);
    },
    async close() {},
  };
}

/** Prefills the sequences (untimed), then times `steps` decode steps of all of them together; returns tokens/s. */
function decodeLoop(
  runner: ModelRunner, prefills: SequenceStep[], context: number, steps: number,
  table: (s: number, tokens: number) => number[], argmax: (l: Float32Array) => number,
): number {
  let next = runner.step(prefills).map(argmax);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const pos = context + i;
    const logits = runner.step(next.map((tok, s) => ({
      tokens: [tok], positions: [pos], blockTable: table(s, pos + 1), contextLen: pos + 1, logits: 'last' as const,
    })));
    next = logits.map(argmax);
  }
  return (steps * prefills.length) / ((performance.now() - t0) / 1000);
}
