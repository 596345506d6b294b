// The kernel interface: everything the model computes goes through one of these
// calls. Two backends implement it — native C++ (src/kernels/native.ts) and a
// plain TypeScript reference (src/kernels/reference.ts) that defines the
// semantics and that the native kernels are tested against.
import type { QuantDType, TensorDType } from './dtype.js';

/**
 * Formats a weight matrix can be packed into for matmul: f32, bf16, f16, and every ggml
 * quantized type (kept as the file has it, so resident size stays near the file size).
 */
export type PackedDType = 'f32' | 'bf16' | 'f16' | QuantDType;

/** A 2-D weight as stored in a file: row-major [rows][cols]; rows = output features. */
export interface RawMatrix {
  dtype: TensorDType;
  rows: number;
  cols: number;
  data: Uint8Array;
}

/** A weight packed for matmul; opaque to everything but its backend. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly dtype: PackedDType;
}

/**
 * 'interleaved' rotates consecutive pairs (2i, 2i+1) — GGUF llama, llama2.c.
 * 'neox' rotates i with i + headDim/2 — Hugging Face, GGUF qwen2.
 */
export type RopeStyle = 'interleaved' | 'neox';

/**
 * A ragged batch of R requests for paged attention. Request r owns query rows
 * qIndptr[r]..qIndptr[r+1]-1; each row has an absolute position qPos[t] and
 * attends the request's cached positions 0..min(qPos[t], contextLens[r]-1).
 * Positions need not be contiguous (a recomputed prefix plus a new prompt).
 * Token at position p lives in block blockTables[blockTableIndptr[r] + p / blockSize],
 * at offset p % blockSize.
 *
 * A sliding window (Gemma's local layers, llama.cpp's LLAMA_SWA_TYPE_STANDARD) narrows what a
 * row sees to positions > qPos[t] - slidingWindow, i.e. the last `slidingWindow` positions up to
 * its own; the kernel skips blocks wholly outside every row's window, so a windowed layer's cost
 * does not grow with the context. Soft-capping (Gemma 2) turns each score s = q·k·scale into
 * cap·tanh(s / cap) before the softmax.
 */
export interface AttentionBatch {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  scale: number;
  /** Positions a row sees, its own included; 0 or absent: the whole causal context. */
  slidingWindow?: number;
  /** Attention-logit soft-cap; 0 or absent: none. */
  softcap?: number;
  qIndptr: Int32Array;
  qPos: Int32Array;
  blockTables: Int32Array;
  blockTableIndptr: Int32Array;
  contextLens: Int32Array;
}

/**
 * A K/V pool, [numBlocks][numKvHeads][blockSize][headDim]: f32 values, or bf16 values as raw
 * bits (half the memory; attention widens them to f32, writeKV rounds to nearest even).
 */
export type KvPool = Float32Array | Uint16Array;

export interface CpuInfo {
  avx2: boolean;
  avx512: boolean;
  avx512bf16: boolean;
  avx512vnni: boolean;
  /** AMX-BF16 usable by this process (the prefill bf16 matmul runs on it). */
  amxbf16: boolean;
  isa: string;
  threads: number;
}

export interface Kernels {
  readonly name: string;

  /** Sets the number of compute threads (n <= 0: one per core). */
  setThreads(n: number): void;

  /**
   * Packs a file weight for matmul. A source packed in its own dtype keeps its values (the
   * backend may reorder the bytes into an interleaved layout). Any source packed as f32, bf16,
   * f16 or q8_0 is dequantized first (toFloat32) and then rounded to nearest even (bf16, f16)
   * or quantized in 32-value blocks with an f16 scale (GGML's q8_0). Other quantized formats
   * come only from a source of that type.
   */
  packMatrix(src: RawMatrix, dtype: PackedDType): Matrix;

  /** Whether packMatrix can keep a weight in this format (a backend may compute only some). */
  packs(dtype: PackedDType): boolean;

  /**
   * out[i][n] = Σ_k x[i][k]·W[n][k] (+ bias[n]) for i < m; x is [m][cols], out [m][rows].
   * bf16 weights: x is rounded to bf16 and products accumulate in f32.
   * f16 and f32 weights: x as it is, f32 accumulation.
   * Quantized weights (q8_0 and every other ggml type): each 32-block b of a row of x is
   * quantized to int8 with an f32 scale d_x = max|x|/127 (q_x = round-half-away(x · (1/d_x)))
   * and out = Σ_b d_x[b] · Σ_{j in b} W[n][j]·q_x[j], W the exact dequantized weight
   * (toFloat32); within a block W is s·u − m with small integers u, so the inner sum is an
   * integer dot scaled in f32.
   */
  matmul(w: Matrix, x: Float32Array, m: number, out: Float32Array, bias?: Float32Array): void;

  /**
   * matmul whose output columns are cut, in order, into several buffers: outs[j] is
   * [m][outs[j].length / m] and receives the next outs[j].length / m columns of every row
   * (widths must sum to rows). For a weight packed from matrices stacked by rows (q|k|v,
   * gate|up), so one pass over the weight serves them all. Values equal matmul's.
   */
  matmulSplit(w: Matrix, x: Float32Array, m: number, outs: readonly Float32Array[], bias?: Float32Array): void;

  /** out[i] = row ids[i] of W, as f32: [ids.length][cols] (a quantized W's exact dequantized rows). */
  embedding(w: Matrix, ids: Int32Array, out: Float32Array): void;

  /** Row-wise over rows of weight.length: out = x / sqrt(mean(x²) + eps) · weight. out may be x. */
  rmsnorm(x: Float32Array, weight: Float32Array, eps: number, out: Float32Array): void;

  /**
   * In-place rotary embedding of x [positions.length][numHeads][headDim]:
   * pair j (of headDim/2) of token t turns by angle positions[t]·invFreq[j].
   */
  rope(x: Float32Array, positions: Int32Array, numHeads: number, headDim: number, invFreq: Float32Array, style: RopeStyle): void;

  /** out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^-g). out may alias gate. */
  siluMul(gate: Float32Array, up: Float32Array, out: Float32Array): void;

  /**
   * out[i] = gelu_tanh(gate[i]) · up[i] (Gemma's GeGLU), gelu_tanh(g) = ½g(1 + tanh(√(2/π)(g +
   * 0.044715g³))), transformers' gelu_pytorch_tanh. out may alias gate.
   */
  geluTanhMul(gate: Float32Array, up: Float32Array, out: Float32Array): void;

  /** In place x[i] = cap·tanh(x[i] / cap), cap > 0: Gemma 2's final-logit soft-capping. */
  softcap(x: Float32Array, cap: number): void;

  /** dst[i] += src[i]. */
  add(dst: Float32Array, src: Float32Array): void;

  /**
   * out[r] = index of the first maximum of row r of x ([out.length][x.length / out.length]);
   * NaN never wins; 0 when a row is all NaN. The greedy pick of sampled logits rows.
   */
  argmax(x: Float32Array, out: Int32Array): void;

  /**
   * Writes each token's K and V ([T][numKvHeads][headDim]) into the layer's cache
   * pools ([numBlocks][numKvHeads][blockSize][headDim]) at slot slotMapping[t]
   * (= block·blockSize + offset); a negative slot skips the token. bf16 pools get each value
   * rounded to nearest even.
   */
  writeKV(
    k: Float32Array, v: Float32Array, slotMapping: Int32Array,
    kCache: KvPool, vCache: KvPool,
    numKvHeads: number, headDim: number, blockSize: number,
  ): void;

  /**
   * out [T][numHeads][headDim] = softmax(cap(q·Kᵀ·scale), masked by position and window) · V
   * over the paged cache (see AttentionBatch); query head h reads KV head floor(h / (numHeads / numKvHeads)).
   */
  pagedAttention(batch: AttentionBatch, q: Float32Array, kCache: KvPool, vCache: KvPool, out: Float32Array): void;
}
