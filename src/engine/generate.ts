// Generation for one sequence, start to finish: the loop behind
// `pensieve generate`. Prefill (optionally in chunks), then decode until a
// stop token or the token limit. The serving engine schedules many sequences
// with src/cache/; this loop owns the whole KV cache and lays its blocks out in order.
import type { ModelRunner } from './model-runner.js';
import { Sampler, type SamplingParams } from './sampler.js';

export interface GenerateOptions {
  maxTokens: number;
  sampling: SamplingParams;
  /** Token ids that end generation (not included in the output). */
  stopIds: readonly number[];
  /** Prefill at most this many tokens per forward pass (default: the whole prompt at once). */
  prefillChunk?: number;
  /** Called with each generated token as it is produced. */
  onToken?: (id: number) => void;
}

export interface GenerateResult {
  promptIds: number[];
  outputIds: number[];
  finishReason: 'stop' | 'length';
}

export function generate(runner: ModelRunner, promptIds: readonly number[], opts: GenerateOptions): GenerateResult {
  const { kv } = runner;
  const maxPositions = runner.model.config.maxPositionEmbeddings;
  if (promptIds.length === 0) throw new RangeError('the prompt has no tokens');
  if (promptIds.length > maxPositions) throw new RangeError(`the prompt has ${promptIds.length} tokens; the model's context is ${maxPositions}`);
  // The last sampled token is never fed back, so N new tokens need P + N - 1 positions.
  const maxTokens = Math.max(0, Math.min(opts.maxTokens, maxPositions - promptIds.length + 1));
  const positionsNeeded = promptIds.length + maxTokens - 1;
  const blocksNeeded = Math.ceil(positionsNeeded / kv.blockSize);
  if (blocksNeeded > kv.numBlocks) {
    throw new RangeError(`${positionsNeeded} tokens need ${blocksNeeded} KV blocks; the cache has ${kv.numBlocks}`);
  }
  const blockTable = Int32Array.from({ length: blocksNeeded }, (_, i) => i);
  const sampler = new Sampler(opts.sampling, promptIds);
  const stop = new Set(opts.stopIds);
  const outputIds: number[] = [];
  if (maxTokens === 0) return { promptIds: [...promptIds], outputIds, finishReason: 'length' };

  const chunk = opts.prefillChunk && opts.prefillChunk > 0 ? opts.prefillChunk : promptIds.length;
  let logits: Float32Array | undefined;
  for (let start = 0; start < promptIds.length; start += chunk) {
    const end = Math.min(start + chunk, promptIds.length);
    const positions = Int32Array.from({ length: end - start }, (_, i) => start + i);
    const last = end === promptIds.length;
    [logits] = runner.step([{ tokens: promptIds.slice(start, end), positions, blockTable, contextLen: end, logits: last ? 'last' : 'none' }]);
  }

  for (;;) {
    const next = sampler.sample(logits!, runner.argmax);
    if (stop.has(next)) return { promptIds: [...promptIds], outputIds, finishReason: 'stop' };
    outputIds.push(next);
    sampler.accept(next);
    opts.onToken?.(next);
    if (outputIds.length >= maxTokens) return { promptIds: [...promptIds], outputIds, finishReason: 'length' };
    const pos = promptIds.length + outputIds.length - 1;
    [logits] = runner.step([{ tokens: [next], positions: [pos], blockTable, contextLen: pos + 1, logits: 'last' }]);
  }
}
