// What the benchmarks share: seeded data, a median timer, the bytes a packed weight streams.
import { byteSize } from '../src/kernels/dtype.js';
import type { PackedDType } from '../src/kernels/types.js';

/** Bytes per weight value of a packed dtype, as its file blocks hold them (256 values: whole blocks of every type). */
export function packedBytesPerValue(dtype: PackedDType): number {
  return byteSize(dtype, 256) / 256;
}

/** n floats in [-1, 1) from a linear congruential generator: the same seed, the same data. */
export function randomF32(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2147483648 - 1;
  }
  return v;
}

/** Seconds per call: the median of timed runs after one warm-up, at least 5 runs and `minSeconds` in all (at most 5000 runs). */
export function medianSeconds(fn: () => void, minSeconds: number): number {
  fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 5 || (performance.now() - start) / 1000 < minSeconds) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
    if (samples.length >= 5000) break;
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}
