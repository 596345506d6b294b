// The step plan: everything one engine step runs, decided by the scheduler and the cache
// (vLLM's SchedulerOutput). The chunk transfers come first — swap-outs that make room,
// swap-ins of returning chains, ahead-of-time copies, releases decided since the last
// step — in the order the cache decided them, then the batch: per request its query
// tokens, their positions, and the block table they read and write through. The engine
// runs the transfers once and the model once; neither the cache nor the model runner is
// asked anything else in between.
import type { ChunkTransfer } from '../cache/chunk-transfer.js';
import type { ScheduledSlots } from '../cache/kv-cache-manager.js';
import type { SequenceStep } from './model-runner.js';
import type { Request } from './request.js';

export interface ScheduledRequest {
  request: Request;
  slots: ScheduledSlots;
  /** This chunk completes the request's pending tokens: sample from its last row. */
  sample: boolean;
}

export interface StepPlan {
  /** Chunk moves to run, in order, before the forward pass writes any KV. */
  transfers: ChunkTransfer[];
  /** The unified batch: decodes, prefill chunks, recomputed prefixes. */
  batch: ScheduledRequest[];
}

/** The model runner's view of one scheduled request. */
export function sequenceStep({ slots, sample }: ScheduledRequest): SequenceStep {
  return { tokens: slots.tokenIds, positions: slots.positions, blockTable: slots.blockTable, contextLen: slots.contextLength, logits: sample ? 'last' : 'none' };
}
