// Cost(l) of the retention value (DESIGN.md §2): the time the real model takes to compute
// one 32-token chunk whose first token sits at context length l. Measured at start-up at
// l = 0, 256, 1024, 4096, ... (every other power of two, so that a handful of points
// spans the contexts that matter), within a time budget, and interpolated linearly
// between them (attention is linear in l for a fixed chunk; the constant is the chunk's
// GEMMs). Beyond the last point it is extrapolated with the last slope.
import { CHUNK_SIZE } from '../cache/chunk-layout.js';
import type { ChunkCostFn } from '../cache/eviction-policy.js';
import type { ModelRunner } from './model-runner.js';

export interface CostPoint {
  contextLength: number;
  ms: number;
}

export interface CostProfile {
  points: CostPoint[];
  cost: ChunkCostFn;
  /** Wall time the profiling took. */
  elapsedMs: number;
}

export interface ProfileOptions {
  chunkSize?: number;
  /** The largest context to measure (the model's window, less a chunk). */
  maxContext: number;
  /** Stop adding points once this much time is spent (at least two points are measured). */
  budgetMs?: number;
  /** Timed runs per point, the fastest kept (default 3; 1 once a run takes over 20 ms). */
  repeats?: number;
}

/**
 * Times forward passes of one chunk at growing context lengths. It writes KV into the
 * runner's cache (the block table wraps around the pool), so run it before serving.
 */
export function profileChunkCost(runner: ModelRunner, options: ProfileOptions): CostProfile {
  const cs = options.chunkSize ?? CHUNK_SIZE;
  const budget = options.budgetMs ?? 1500;
  const repeats = options.repeats ?? 3;
  const { blockSize, numBlocks } = runner.kv;
  const start = performance.now();
  const run = (l: number): number => {
    const positions = Array.from({ length: cs }, (_, i) => l + i);
    const blockTable = Array.from({ length: Math.ceil((l + cs) / blockSize) }, (_, b) => b % numBlocks);
    const t0 = performance.now();
    runner.step([{ tokens: new Array<number>(cs).fill(1), positions, blockTable, contextLen: l + cs, logits: 'none' }]);
    return performance.now() - t0;
  };
  const slow = run(0) > 20; // warm-up too: scratch buffers, page faults, thread pool
  const points: CostPoint[] = [];
  for (let l = 0; l + cs <= options.maxContext; l = l === 0 ? 256 : 4 * l) {
    let best = Infinity;
    for (let r = 0; r < (slow && options.repeats === undefined ? 1 : repeats); r++) best = Math.min(best, run(l));
    points.push({ contextLength: l, ms: best });
    // Stop before a point that would overrun the budget (predicted by the slope so far).
    const next = l === 0 ? 256 : 4 * l;
    if (points.length >= 2 && performance.now() - start + interpolate(points)(next) > budget) break;
  }
  // Cost must not fall with l (the layout relies on it), and timing noise only ever adds
  // time: a point above a later one is a spike, lowered to the later one.
  for (let i = points.length - 2; i >= 0; i--) points[i]!.ms = Math.min(points[i]!.ms, points[i + 1]!.ms);
  return { points, cost: interpolate(points), elapsedMs: performance.now() - start };
}

/** Piecewise-linear through the points, extrapolated past the last with its slope. */
export function interpolate(points: readonly CostPoint[]): ChunkCostFn {
  if (points.length === 0) throw new RangeError('no cost points');
  return (l: number): number => {
    if (points.length === 1 || l <= points[0]!.contextLength) return points[0]!.ms;
    for (let i = 1; i < points.length; i++) {
      const [a, b] = [points[i - 1]!, points[i]!];
      if (l <= b.contextLength) return a.ms + ((b.ms - a.ms) * (l - a.contextLength)) / (b.contextLength - a.contextLength);
    }
    const [a, b] = [points[points.length - 2]!, points[points.length - 1]!];
    return b.ms + (Math.max(0, b.ms - a.ms) * (l - b.contextLength)) / (b.contextLength - a.contextLength);
  };
}
