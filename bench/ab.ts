// A/B two builds of the native addon in one process, on the GEMVs of a decode step (Qwen2.5-0.5B
// shapes: 24 layers of q|k|v, o, gate|up and down, then lm_head). On this shared machine the
// bandwidth the neighbours leave moves by 2x within minutes, so two builds are only comparable
// when they run interleaved, round by round, in one process; the figure that counts is the
// median of the per-round ratios.
//
//   cp build/Release/pensieve_native.node /tmp/a.node      # the baseline build
//   (change native/, npm run build:native)
//   npx tsx bench/ab.ts /tmp/a.node build/Release/pensieve_native.node [--m 1] [--rounds 10] [--dtype bf16]
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { PackedDType } from '../src/kernels/types.js';
import { packedBytesPerValue, randomF32 } from './timing.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { m: { type: 'string', default: '1' }, rounds: { type: 'string', default: '10' }, dtype: { type: 'string', default: 'bf16' } },
});
if (positionals.length !== 2) throw new Error('usage: npx tsx bench/ab.ts A.node B.node [--m N] [--rounds N] [--dtype bf16|q8_0|f32]');

/** The two addon exports this compares (the rest of the surface is src/kernels/native.ts's). */
interface AddonUnderTest {
  packMatrix(data: Uint8Array, srcDtype: string, rows: number, cols: number, dstDtype: string): object;
  matmul(w: object, x: Float32Array, m: number, out: Float32Array, bias: null): void;
  probeReadBandwidth(bytes: number, passes: number): number;
}
const require = createRequire(import.meta.url);
const builds = positionals.map((p) => require(path.resolve(p)) as AddonUnderTest);
const M = Number(flags.m), ROUNDS = Number(flags.rounds);
const LAYER: [number, number][] = [[1152, 896], [896, 896], [9728, 896], [896, 4864]];
const LM_HEAD: [number, number] = [151936, 896];
const bytesPer = packedBytesPerValue(flags.dtype as PackedDType);

const sources = new Map<string, Uint8Array>();
const source = (r: number, c: number) => {
  const key = `${r}x${c}`;
  if (!sources.has(key)) sources.set(key, new Uint8Array(randomF32(r * c, r ^ c).buffer));
  return sources.get(key)!;
};
const pack = (a: AddonUnderTest, [r, c]: [number, number]) => ({ h: a.packMatrix(source(r, c), 'f32', r, c, flags.dtype!), r, c });
const setups = builds.map((a) => ({ layers: Array.from({ length: 24 }, () => LAYER.map((s) => pack(a, s))), lm: pack(a, LM_HEAD) }));
const x = randomF32(4864 * M, 1), out = new Float32Array(LM_HEAD[0] * M);
const layerBytes = 24 * LAYER.reduce((n, [r, c]) => n + r * c * bytesPer, 0), lmBytes = LM_HEAD[0] * LM_HEAD[1] * bytesPer;

const time = (fn: () => void, n: number) => {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (performance.now() - t0) / n / 1000;
};
const gbps: { layers: number[]; lm: number[] }[] = builds.map(() => ({ layers: [], lm: [] }));
const probes: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  probes.push(builds[0]!.probeReadBandwidth(512 << 20, 3));
  const order = round % 2 ? [0, 1] : [1, 0];
  for (const i of order) {
    const a = builds[i]!, s = setups[i]!;
    const layers = time(() => { for (const L of s.layers) for (const w of L) a.matmul(w.h, x.subarray(0, w.c * M), M, out.subarray(0, w.r * M), null); }, 3);
    const lm = time(() => a.matmul(s.lm.h, x.subarray(0, LM_HEAD[1] * M), M, out, null), 3);
    gbps[i]!.layers.push(layerBytes / layers / 1e9);
    gbps[i]!.lm.push(lmBytes / lm / 1e9);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const ratio = (k: 'layers' | 'lm') => median(gbps[1]![k].map((b, i) => b / gbps[0]![k][i]!));
console.log(`${flags.dtype}, m = ${M}, ${ROUNDS} interleaved rounds; read-bandwidth probe median ${median(probes).toFixed(1)} GB/s (GB/s of weights streamed)`);
console.log(`layers (96 GEMVs):  A ${median(gbps[0]!.layers).toFixed(1)}  B ${median(gbps[1]!.layers).toFixed(1)}  B/A ${ratio('layers').toFixed(3)}`);
console.log(`lm_head:            A ${median(gbps[0]!.lm).toFixed(1)}  B ${median(gbps[1]!.lm).toFixed(1)}  B/A ${ratio('lm').toFixed(3)}`);
