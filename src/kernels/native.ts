// The native (C++) backend: a typed face over build/Release/pensieve_native.node.
// TS decides what to compute; the addon only computes it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { toFloat32 } from './dtype.js';
import type { AttentionBatch, CpuInfo, Kernels, KvPool, Matrix, PackedDType, RawMatrix, RopeStyle } from './types.js';

/** An opaque handle owning a packed weight in native memory. */
type MatrixHandle = object;

/** The functions the addon exports (native/*.cc register them). */
interface Addon {
  cpuInfo(): CpuInfo;
  setThreads(n: number): number;
  setMaxIsa(isa: 'scalar' | 'avx2' | 'avx512'): string;
  /**
   * Roofline probes for benchmarks (native/probe.cc), on the active ISA: median GB/s of a streaming
   * read; GFLOP/s (GOP/s) of the dot instruction that kind's kernel runs; which instruction each
   * one is ('' where it answers 0).
   */
  probeReadBandwidth(bytes: number, passes: number): number;
  probeFlops(kind: 'bf16' | 'int8' | 'f32', iterations: number): number;
  probeInstruction(kind: 'bw' | 'bf16' | 'int8' | 'f32'): string;
  packMatrix(data: Uint8Array, srcDtype: string, rows: number, cols: number, dstDtype: PackedDType): MatrixHandle;
  /** The formats packMatrix keeps weights in; an addon without it packs f32, bf16 and q8_0. */
  packedDtypes?(): string[];
  /** Bytes a packed matrix holds in memory. */
  packedBytes(w: MatrixHandle): number;
  matmul(w: MatrixHandle, x: Float32Array, m: number, out: Float32Array | readonly Float32Array[], bias: Float32Array | null): void;
  embedding(w: MatrixHandle, ids: Int32Array, out: Float32Array): void;
  rmsnorm(x: Float32Array, weight: Float32Array, eps: number, out: Float32Array): void;
  rope(x: Float32Array, positions: Int32Array, numHeads: number, headDim: number, invFreq: Float32Array, neox: boolean): void;
  siluMul(gate: Float32Array, up: Float32Array, out: Float32Array): void;
  geluTanhMul(gate: Float32Array, up: Float32Array, out: Float32Array): void;
  softcap(x: Float32Array, cap: number): void;
  add(dst: Float32Array, src: Float32Array): void;
  argmax(x: Float32Array, out: Int32Array): void;
  /** CRC-32C of the bytes, continuing `crc` (native/crc32c.cc). */
  crc32c(data: Uint8Array, crc?: number): number;
  writeKV(
    k: Float32Array, v: Float32Array, slotMapping: Int32Array, kCache: KvPool, vCache: KvPool,
    numKvHeads: number, headDim: number, blockSize: number,
  ): void;
  pagedAttention(
    q: Float32Array, kCache: KvPool, vCache: KvPool, out: Float32Array,
    qIndptr: Int32Array, qPos: Int32Array, blockTables: Int32Array, blockTableIndptr: Int32Array, contextLens: Int32Array,
    numHeads: number, numKvHeads: number, headDim: number, blockSize: number, scale: number,
    slidingWindow?: number, softcap?: number,
  ): void;
}

const addonPath = fileURLToPath(new URL('../../build/Release/pensieve_native.node', import.meta.url));

function loadAddon(): Addon {
  try {
    return createRequire(import.meta.url)(addonPath) as Addon;
  } catch (err) {
    throw new Error(`the native addon is not built (${addonPath}): run \`npm ci\` or \`npm run build:native\`\n${String(err)}`);
  }
}

export const addon: Addon = loadAddon();

const packedDtypes = new Set<string>(addon.packedDtypes?.() ?? ['f32', 'bf16', 'q8_0']);

/** A weight in a form the addon reads: a source type it cannot compute is dequantized to f32 here. */
function readable(src: RawMatrix): RawMatrix {
  if (src.dtype === 'f16' || packedDtypes.has(src.dtype)) return src;
  return { ...src, dtype: 'f32', data: new Uint8Array(toFloat32(src.dtype, src.data, src.rows * src.cols).buffer) };
}

class NativeMatrix implements Matrix {
  constructor(readonly rows: number, readonly cols: number, readonly dtype: PackedDType, readonly handle: MatrixHandle) {}
}

function handleOf(w: Matrix): MatrixHandle {
  if (!(w instanceof NativeMatrix)) throw new TypeError('matrix was not packed by the native backend');
  return w.handle;
}

export const nativeKernels: Kernels = {
  name: 'native',
  setThreads(n: number) {
    addon.setThreads(n);
  },
  packMatrix(src: RawMatrix, dtype: PackedDType): Matrix {
    const input = readable(src);
    return new NativeMatrix(src.rows, src.cols, dtype, addon.packMatrix(input.data, input.dtype, src.rows, src.cols, dtype));
  },
  packs: (dtype) => packedDtypes.has(dtype),
  matmul(w, x, m, out, bias) {
    addon.matmul(handleOf(w), x, m, out, bias ?? null);
  },
  matmulSplit(w, x, m, outs, bias) {
    addon.matmul(handleOf(w), x, m, outs, bias ?? null);
  },
  embedding(w, ids, out) {
    addon.embedding(handleOf(w), ids, out);
  },
  rmsnorm: (x, weight, eps, out) => addon.rmsnorm(x, weight, eps, out),
  rope(x: Float32Array, positions: Int32Array, numHeads: number, headDim: number, invFreq: Float32Array, style: RopeStyle) {
    addon.rope(x, positions, numHeads, headDim, invFreq, style === 'neox');
  },
  siluMul: (gate, up, out) => addon.siluMul(gate, up, out),
  geluTanhMul: (gate, up, out) => addon.geluTanhMul(gate, up, out),
  softcap: (x, cap) => addon.softcap(x, cap),
  add: (dst, src) => addon.add(dst, src),
  argmax: (x, out) => addon.argmax(x, out),
  writeKV: (k, v, slotMapping, kCache, vCache, numKvHeads, headDim, blockSize) =>
    addon.writeKV(k, v, slotMapping, kCache, vCache, numKvHeads, headDim, blockSize),
  pagedAttention(b: AttentionBatch, q, kCache, vCache, out) {
    addon.pagedAttention(
      q, kCache, vCache, out, b.qIndptr, b.qPos, b.blockTables, b.blockTableIndptr, b.contextLens,
      b.numHeads, b.numKvHeads, b.headDim, b.blockSize, b.scale, b.slidingWindow ?? 0, b.softcap ?? 0,
    );
  },
};
