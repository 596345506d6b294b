// Cost(l) of the retention value (DESIGN.md §2): the time the real model takes to compute
// one 32-token chunk whose first token sits at context length l. Measured at start-up at
// l = 0, 32, 64, 128, ... (powers of two), within a time budget, and interpolated
// linearly between the points (attention is linear in l for a fixed chunk; the constant
// is the chunk's GEMMs). Beyond the last point it is extrapolated with the last slope.
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
  /** Timed runs per point; the fastest is kept. */
  repeats?: number;
}

/**
 * Times forward passes of one chunk at growing context lengths. It writes KV into the
 * runner's cache (the block table wraps around the pool), so run it before serving.
 */
export function profileChunkCost(runner: ModelRunner, options: ProfileOptions): CostProfile {
  const cs = options.chunkSize ?? 32;
  const budget = options.budgetMs ?? 1000;
  const repeats = options.repeats ?? 2;
  const { blockSize, numBlocks } = runner.kv;
  const start = performance.now();
  const run = (l: number): number => {
    const positions = Array.from({ length: cs }, (_, i) => l + i);
    const blockTable = Array.from({ length: Math.ceil((l + cs) / blockSize) }, (_, b) => b % numBlocks);
    const t0 = performance.now();
    runner.step([{ tokens: new Array<number>(cs).fill(1), positions, blockTable, contextLen: l + cs, logits: 'none' }]);
    return performance.now() - t0;
  };
  run(0); // warm-up: scratch buffers, page faults, thread pool
  const points: CostPoint[] = [];
  for (let l = 0; l + cs <= options.maxContext; l = l === 0 ? cs : 2 * l) {
    let best = Infinity;
    for (let r = 0; r < repeats; r++) best = Math.min(best, run(l));
    // Noise must not make a later chunk look cheaper: the layout relies on Cost growing.
    points.push({ contextLength: l, ms: Math.max(best, points.at(-1)?.ms ?? 0) });
    if (points.length >= 2 && performance.now() - start > budget) break;
  }
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
