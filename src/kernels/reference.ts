// Plain TypeScript kernels: the definition of what each kernel computes, and
// the reference the native kernels are tested against. Slow by design (f64
// arithmetic, no blocking); never used to serve.
import { Q8_0_BLOCK, bf16ToF32, f32ToBf16, fromFloat32, roundHalfAway, roundToBf16, toFloat32 } from './dtype.js';
import type { AttentionBatch, Kernels, KvPool, Matrix, PackedDType, RawMatrix, RopeStyle } from './types.js';

/** A packed weight of the reference backend: values as the matmul sees them. */
class RefMatrix implements Matrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly dtype: PackedDType,
    /**
     * The weight values [rows][cols] the matmul multiplies: bf16-rounded for bf16, f16-rounded for
     * f16, and for a quantized type the exact dequantized values (toFloat32, as ggml's
     * dequantize_row_*), e.g. d·q for q8_0.
     */
    readonly values: Float32Array,
  ) {}
}

function asRef(w: Matrix): RefMatrix {
  if (!(w instanceof RefMatrix)) throw new TypeError('matrix was not packed by the reference backend');
  return w;
}

/** Whether matmul quantizes x per 32-block for this weight (every quantized type; not f32, bf16, f16). */
function quantizesActivations(dtype: PackedDType): boolean {
  return dtype !== 'f32' && dtype !== 'bf16' && dtype !== 'f16';
}

/** Weight values of `src` as packed in `dtype` (see RefMatrix.values). */
function packedValues(src: RawMatrix, dtype: PackedDType): Float32Array {
  const { rows, cols } = src;
  const count = rows * cols;
  if (dtype === src.dtype) return toFloat32(dtype, src.data, count);
  if (dtype !== 'f32' && dtype !== 'bf16' && dtype !== 'f16' && dtype !== 'q8_0') {
    throw new RangeError(`cannot pack ${src.dtype} as ${dtype}: only a ${dtype} source keeps that format`);
  }
  if (dtype === 'q8_0' && cols % Q8_0_BLOCK !== 0) throw new RangeError(`q8_0 needs cols divisible by ${Q8_0_BLOCK}, got ${cols}`);
  // Any other source is dequantized (or widened) first, then rounded into the packed format.
  const values = toFloat32(src.dtype, src.data, count);
  if (dtype === 'f32') return values;
  if (dtype === 'bf16') return values.map(roundToBf16);
  // f16 and q8_0 round through their own encoder (q8_0: GGML's reference quantizer).
  return toFloat32(dtype, fromFloat32(dtype, values), count);
}

/**
 * A row of x quantized per 32-value block as the q8_0 activations of every quantized matmul:
 * d = max|x|/127 as f32, q = round-half-away(x · (1/d)) with 1/d in double.
 */
function quantizeRowQ8(x: Float32Array, offset: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(cols);
  const scales = new Float32Array(cols / Q8_0_BLOCK);
  for (let b = 0; b < cols / Q8_0_BLOCK; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(x[offset + b * Q8_0_BLOCK + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? 1 / d : 0;
    scales[b] = d;
    for (let j = 0; j < Q8_0_BLOCK; j++) q[b * Q8_0_BLOCK + j] = roundHalfAway(x[offset + b * Q8_0_BLOCK + j]! * id);
  }
  return { q, scales };
}

export const referenceKernels: Kernels = {
  name: 'reference',

  setThreads(): void {
    // The reference kernels are single-threaded by design.
  },

  packMatrix(src: RawMatrix, dtype: PackedDType): Matrix {
    return new RefMatrix(src.rows, src.cols, dtype, packedValues(src, dtype));
  },

  packs(): boolean {
    // Every PackedDType: the reference defines what each format computes.
    return true;
  },

  matmulSplit(w: Matrix, x: Float32Array, m: number, outs: readonly Float32Array[], bias?: Float32Array): void {
    const rows = w.rows;
    const widths = splitWidths(outs, m, rows);
    const all = new Float32Array(m * rows);
    referenceKernels.matmul(w, x, m, all, bias);
    let col = 0;
    outs.forEach((out, j) => {
      const width = widths[j]!;
      for (let i = 0; i < m; i++) out.set(all.subarray(i * rows + col, i * rows + col + width), i * width);
      col += width;
    });
  },

  matmul(w: Matrix, x: Float32Array, m: number, out: Float32Array, bias?: Float32Array): void {
    const mat = asRef(w);
    const { rows, cols, values } = mat;
    if (cols % Q8_0_BLOCK !== 0 && quantizesActivations(mat.dtype)) throw new RangeError(`${mat.dtype} matmul needs cols divisible by ${Q8_0_BLOCK}`);
    for (let i = 0; i < m; i++) {
      if (quantizesActivations(mat.dtype)) {
        // out = Σ_b d_x[b] · Σ_{j in b} W[j]·q_x[j], W the exact dequantized weight.
        const xq = quantizeRowQ8(x, i * cols, cols);
        for (let n = 0; n < rows; n++) {
          let acc = 0;
          for (let b = 0; b < cols / Q8_0_BLOCK; b++) {
            let dot = 0;
            for (let j = b * Q8_0_BLOCK; j < (b + 1) * Q8_0_BLOCK; j++) dot += values[n * cols + j]! * xq.q[j]!;
            acc += xq.scales[b]! * dot;
          }
          out[i * rows + n] = acc + (bias ? bias[n]! : 0);
        }
        continue;
      }
      // bf16 weights see x rounded to bf16; f32 and f16 weights see x as it is.
      const round = mat.dtype === 'bf16';
      for (let n = 0; n < rows; n++) {
        let acc = 0;
        for (let k = 0; k < cols; k++) {
          const xv = round ? roundToBf16(x[i * cols + k]!) : x[i * cols + k]!;
          acc += values[n * cols + k]! * xv;
        }
        out[i * rows + n] = acc + (bias ? bias[n]! : 0);
      }
    }
  },

  embedding(w: Matrix, ids: Int32Array, out: Float32Array): void {
    const mat = asRef(w);
    ids.forEach((id, i) => {
      if (id < 0 || id >= mat.rows) throw new RangeError(`token id ${id} out of range [0, ${mat.rows})`);
      out.set(mat.values.subarray(id * mat.cols, (id + 1) * mat.cols), i * mat.cols);
    });
  },

  rmsnorm(x: Float32Array, weight: Float32Array, eps: number, out: Float32Array): void {
    const dim = weight.length;
    for (let r = 0; r < x.length / dim; r++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[r * dim + i]! ** 2;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i]! * inv * weight[i]!;
    }
  },

  rope(x: Float32Array, positions: Int32Array, numHeads: number, headDim: number, invFreq: Float32Array, style: RopeStyle): void {
    const half = headDim / 2;
    positions.forEach((pos, t) => {
      for (let h = 0; h < numHeads; h++) {
        const base = (t * numHeads + h) * headDim;
        for (let j = 0; j < half; j++) {
          const angle = pos * invFreq[j]!;
          const c = Math.cos(angle), s = Math.sin(angle);
          const i0 = style === 'interleaved' ? base + 2 * j : base + j;
          const i1 = style === 'interleaved' ? i0 + 1 : i0 + half;
          const a = x[i0]!, b = x[i1]!;
          x[i0] = a * c - b * s;
          x[i1] = a * s + b * c;
        }
      }
    });
  },

  siluMul(gate: Float32Array, up: Float32Array, out: Float32Array): void {
    for (let i = 0; i < gate.length; i++) out[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
  },

  geluTanhMul(gate: Float32Array, up: Float32Array, out: Float32Array): void {
    for (let i = 0; i < gate.length; i++) {
      const g = gate[i]!;
      out[i] = 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g))) * up[i]!;
    }
  },

  softcap(x: Float32Array, cap: number): void {
    if (!(cap > 0 && Number.isFinite(cap))) throw new RangeError(`softcap: cap must be finite and > 0, got ${cap}`);
    for (let i = 0; i < x.length; i++) x[i] = cap * Math.tanh(x[i]! / cap);
  },

  add(dst: Float32Array, src: Float32Array): void {
    for (let i = 0; i < dst.length; i++) dst[i] = dst[i]! + src[i]!;
  },

  argmax(x: Float32Array, out: Int32Array): void {
    if (out.length === 0) return;
    if (x.length % out.length !== 0) {
      throw new RangeError(`argmax: x has ${x.length} floats, not a whole number of rows for out's ${out.length} entries`);
    }
    const cols = x.length / out.length;
    for (let r = 0; r < out.length; r++) out[r] = argmaxRow(x.subarray(r * cols, (r + 1) * cols));
  },

  writeKV(k, v, slotMapping, kCache, vCache, numKvHeads, headDim, blockSize): void {
    slotMapping.forEach((slot, t) => {
      if (slot < 0) return;
      const block = Math.floor(slot / blockSize), offset = slot % blockSize;
      for (let h = 0; h < numKvHeads; h++) {
        const src = (t * numKvHeads + h) * headDim;
        const dst = ((block * numKvHeads + h) * blockSize + offset) * headDim;
        for (let d = 0; d < headDim; d++) {
          kCache[dst + d] = kvStored(kCache, k[src + d]!);
          vCache[dst + d] = kvStored(vCache, v[src + d]!);
        }
      }
    });
  },

  pagedAttention(batch: AttentionBatch, q: Float32Array, kPool: KvPool, vPool: KvPool, out: Float32Array): void {
    const { numHeads, numKvHeads, headDim, blockSize, scale, qIndptr, qPos, blockTables, blockTableIndptr, contextLens } = batch;
    const window = batch.slidingWindow ?? 0, cap = batch.softcap ?? 0;
    const kCache = kvValues(kPool), vCache = kvValues(vPool);
    const group = numHeads / numKvHeads;
    for (let r = 0; r + 1 < qIndptr.length; r++) {
      const table = blockTables.subarray(blockTableIndptr[r]!, blockTableIndptr[r + 1]!);
      for (let t = qIndptr[r]!; t < qIndptr[r + 1]!; t++) {
        const visible = Math.min(qPos[t]! + 1, contextLens[r]!);
        // llama.cpp masks key p0 for query p1 when p1 - p0 >= n_swa.
        const first = window > 0 ? Math.max(0, qPos[t]! - window + 1) : 0;
        for (let h = 0; h < numHeads; h++) {
          const kvh = Math.floor(h / group);
          const qBase = (t * numHeads + h) * headDim;
          const scores = new Float64Array(visible);
          let max = -Infinity;
          for (let p = first; p < visible; p++) {
            const base = ((table[Math.floor(p / blockSize)]! * numKvHeads + kvh) * blockSize + (p % blockSize)) * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * kCache(base + d);
            scores[p] = cap > 0 ? cap * Math.tanh((dot * scale) / cap) : dot * scale;
            max = Math.max(max, scores[p]!);
          }
          let sum = 0;
          for (let p = first; p < visible; p++) sum += (scores[p] = Math.exp(scores[p]! - max));
          for (let d = 0; d < headDim; d++) out[qBase + d] = 0;
          for (let p = first; p < visible; p++) {
            const base = ((table[Math.floor(p / blockSize)]! * numKvHeads + kvh) * blockSize + (p % blockSize)) * headDim;
            const wgt = scores[p]! / sum;
            for (let d = 0; d < headDim; d++) out[qBase + d] = out[qBase + d]! + wgt * vCache(base + d);
          }
        }
      }
    }
  },
};

/** What a K/V pool stores for value x: x itself, or its bf16 bits (round to nearest even). */
function kvStored(pool: KvPool, x: number): number {
  return pool instanceof Uint16Array ? f32ToBf16(x) : x;
}

/** Element i of a K/V pool as a number (bf16 bits widened). */
function kvValues(pool: KvPool): (i: number) => number {
  return pool instanceof Uint16Array ? (i) => bf16ToF32(pool[i]!) : (i) => pool[i]!;
}

/** Column widths of matmulSplit's outputs; they must be whole rows of m and sum to `rows`. */
export function splitWidths(outs: readonly Float32Array[], m: number, rows: number): number[] {
  const widths = outs.map((o) => (m === 0 ? 0 : o.length / m));
  const sum = widths.reduce((a, b) => a + b, 0);
  if (m > 0 && (widths.some((wd) => !Number.isInteger(wd)) || sum !== rows)) {
    throw new RangeError(`matmulSplit: output widths [${widths}] (lengths / m = ${m}) must be integers summing to ${rows} rows`);
  }
  return widths;
}

/** Index of the first maximum of x; NaN never wins; 0 when x is empty or all NaN. */
export function argmaxRow(x: Float32Array): number {
  let best = -1, bestValue = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > bestValue || (best < 0 && v === -Infinity)) {
      best = i;
      bestValue = v;
    }
  }
  return best < 0 ? 0 : best;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `data`, continuing `crc`: the reference for native/crc32c.cc. */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = (c >>> 8) ^ CRC32C_TABLE[(c ^ data[i]!) & 0xff]!;
  return ~c >>> 0;
}
