// Matmul throughput on Qwen2.5-0.5B shapes: GEMV (m = 1, decode) as GB/s of
// packed weight streamed, and GEMM (m = 128, prefill) as GFLOP/s with its
// per-row speed-up over the DRAM-bound GEMV. A decode step streams the whole
// model (far more than the 32 MiB L3), so "dram" cycles through copies of the
// weight that together exceed the L3, to compare with DESIGN.md's ≈31 GB/s;
// "l3" repeats one matrix that stays cache-resident (what a loop over one
// small matrix would wrongly report). Numbers are only meaningful on an idle
// machine. Run `npx tsx bench/matmul.ts [f32|bf16|q8_0 ...]`.
import { addon, nativeKernels } from '../src/kernels/native.js';
import type { Matrix, PackedDType } from '../src/kernels/types.js';
import { medianSeconds, packedBytesPerValue, randomF32 } from './timing.js';

const DRAM_GBPS = 31;
const SHAPES: Array<[string, number, number]> = [
  ['down   896x4864', 896, 4864],
  ['up    4864x896', 4864, 896],
  ['lm_head 151936x896', 151936, 896],
];
const GEMM_M = 128;
const COLD_BYTES = 192 * 1024 * 1024;  // 6× the L3


function bench(dtype: PackedDType, name: string, rows: number, cols: number): void {
  const src = randomF32(rows * cols, rows ^ cols);
  const w: Matrix = nativeKernels.packMatrix({ dtype: 'f32', rows, cols, data: new Uint8Array(src.buffer) }, dtype);
  const weightBytes = rows * cols * packedBytesPerValue(dtype);

  const x1 = randomF32(cols, 1);
  const out1 = new Float32Array(rows);
  const hot = medianSeconds(() => nativeKernels.matmul(w, x1, 1, out1), 0.5);
  const copies: Matrix[] = [w];
  while (copies.length * weightBytes < COLD_BYTES) {
    copies.push(nativeKernels.packMatrix({ dtype: 'f32', rows, cols, data: new Uint8Array(src.buffer) }, dtype));
  }
  let next = 0;
  const gemv = medianSeconds(() => nativeKernels.matmul(copies[next++ % copies.length]!, x1, 1, out1), 1);
  const gbps = weightBytes / gemv / 1e9;

  const xm = randomF32(GEMM_M * cols, 2);
  const outm = new Float32Array(GEMM_M * rows);
  const gemm = medianSeconds(() => nativeKernels.matmul(w, xm, GEMM_M, outm), 1);
  const gflops = (2 * GEMM_M * rows * cols) / gemm / 1e9;
  const speedup = (gemv * GEMM_M) / gemm;

  console.log(
    `${dtype.padEnd(5)} ${name.padEnd(19)} GEMV dram ${(gemv * 1e3).toFixed(3).padStart(7)} ms ${gbps.toFixed(1).padStart(5)} GB/s ` +
      `(${((100 * gbps) / DRAM_GBPS).toFixed(0).padStart(3)}% of ${DRAM_GBPS}), l3 ${(weightBytes / hot / 1e9).toFixed(0).padStart(3)} GB/s   ` +
      `GEMM m=${GEMM_M} ${(gemm * 1e3).toFixed(1).padStart(7)} ms ${gflops.toFixed(1).padStart(6)} GFLOP/s  ${speedup.toFixed(1).padStart(5)}x per row`,
  );
}

const dtypes = (process.argv.slice(2).length ? process.argv.slice(2) : ['bf16', 'q8_0', 'f32']) as PackedDType[];
const info = addon.cpuInfo();
console.log(`isa ${info.isa} (avx512bf16 ${info.avx512bf16}, vnni ${info.avx512vnni}), ${info.threads} threads`);
for (const dtype of dtypes) for (const [name, rows, cols] of SHAPES) bench(dtype, name, rows, cols);
