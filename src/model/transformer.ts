// The Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral; Qwen2, which is Llama
// with q/k/v biases; Qwen3, which norms each q and k head before RoPE; Phi-3 with partial
// RoPE; OLMo 2 with post-norms; SmolLM3 with NoPE layers). What a family changes
// is a flag of its config (see architectures/); the pass is one. One forward pass runs a ragged batch: any
// mix of prefill chunks, recomputed prefixes and decode tokens, each request
// with its own block table. Reads top to bottom like the math; the kernels
// carry the speed.
import type { Kernels } from '../kernels/types.js';
import { architecture } from './architectures/index.js';
import type { ModelConfig } from './config.js';
import type { KvCache } from './kv-cache.js';
import { layerNorm, relu } from './layer-norm.js';
import { matmulStack } from './matrix-stack.js';
import { applyRope, ropeTables, type RopeTables } from './rope.js';
import type { ModelWeights } from './weights.js';

/** One step's flattened batch (the contract between the engine and the model). */
export interface ForwardBatch {
  /** [T] token ids of all query rows, request after request. */
  tokens: Int32Array;
  /** [T] absolute position of each row. */
  positions: Int32Array;
  /** [T] KV slot (block·blockSize + offset) each row's K/V is written to. */
  slotMapping: Int32Array;
  /** [R+1] rows of request r: qIndptr[r] .. qIndptr[r+1]-1. */
  qIndptr: Int32Array;
  /** Block tables of all requests, flattened; request r's is blockTableIndptr[r] .. [r+1]. */
  blockTables: Int32Array;
  blockTableIndptr: Int32Array;
  /** [R] KV tokens valid for request r once this step's rows are written. */
  contextLens: Int32Array;
  /** Rows whose logits are wanted, in the order returned. */
  logitRows: Int32Array;
}

/** Activation buffers reused across steps; grown to the largest batch seen. */
class Scratch {
  private buffers = new Map<string, Float32Array>();
  get(name: string, size: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < size) {
      b = new Float32Array(size);
      this.buffers.set(name, b);
    }
    return b.subarray(0, size);
  }
}

export class Transformer {
  readonly rope: RopeTables;
  private readonly scratch = new Scratch();
  private readonly noRope: ReadonlySet<number>;
  /** OPT's decoder: learned positions at this row offset, LayerNorm, ReLU FFN (null otherwise). */
  private readonly opt: { positionOffset: number } | null;

  constructor(readonly config: ModelConfig, readonly weights: ModelWeights, readonly kernels: Kernels) {
    this.rope = ropeTables(config);
    this.noRope = new Set(config.noRopeLayers ?? []);
    this.opt = architecture(config.architecture).opt ?? null;
  }

  /** RMSNorm, or OPT's LayerNorm (which has a bias). */
  private norm(x: Float32Array, weight: Float32Array, bias: Float32Array | undefined, out: Float32Array): void {
    if (this.opt) layerNorm(x, weight, bias!, this.config.rmsNormEps, out);
    else this.kernels.rmsnorm(x, weight, this.config.rmsNormEps, out);
  }

  /**
   * Runs the batch through the model; returns logits [logitRows.length][vocabSize], written
   * into `out` when it is given (and large enough), else into a new array.
   */
  forward(batch: ForwardBatch, kv: KvCache, out?: Float32Array): Float32Array {
    const { config: c, weights: w, kernels: k, scratch: s } = this;
    const T = batch.tokens.length;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const attention = {
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      blockSize: kv.blockSize,
      scale: 1 / Math.sqrt(c.headDim),
      qIndptr: batch.qIndptr,
      qPos: batch.positions,
      blockTables: batch.blockTables,
      blockTableIndptr: batch.blockTableIndptr,
      contextLens: batch.contextLens,
    };

    const x = s.get('x', T * c.hiddenSize);
    const xb = s.get('xb', T * c.hiddenSize);
    const q = s.get('q', T * qDim);
    const kk = s.get('k', T * kvDim);
    const vv = s.get('v', T * kvDim);
    const att = s.get('att', T * qDim);
    const gate = s.get('gate', T * c.intermediateSize);
    const up = s.get('up', T * c.intermediateSize);

    k.embedding(w.embed, batch.tokens, x);
    if (this.opt) {
      // OPT's learned absolute positions: row position + 2 of the table.
      const offset = this.opt.positionOffset;
      k.embedding(w.posEmbed!, Int32Array.from(batch.positions, (p) => p + offset), xb);
      k.add(x, xb);
    }
    for (let l = 0; l < c.numLayers; l++) {
      const lw = w.layers[l]!;
      const cache = kv.layers[l]!;

      // Attention block (OLMo 2 norms its output instead of its input).
      if (lw.attnNorm) this.norm(x, lw.attnNorm, lw.attnNormBias, xb);
      matmulStack(k, lw.wqkv, lw.attnNorm ? xb : x, T, [q, kk, vv], lw.bqkv ?? undefined);
      // rmsnorm works on rows of its weight's length: one row per head (Qwen3), or per token (OLMo 2).
      if (lw.qNorm) k.rmsnorm(q, lw.qNorm, c.rmsNormEps, q);
      if (lw.kNorm) k.rmsnorm(kk, lw.kNorm, c.rmsNormEps, kk);
      if (!this.opt && !this.noRope.has(l)) {
        const gather = (n: number) => s.get('rope', n);
        applyRope(k, q, batch.positions, c.numHeads, c.headDim, this.rope, c.ropeStyle, gather);
        applyRope(k, kk, batch.positions, c.numKvHeads, c.headDim, this.rope, c.ropeStyle, gather);
      }
      k.writeKV(kk, vv, batch.slotMapping, cache.k, cache.v, c.numKvHeads, c.headDim, kv.blockSize);
      k.pagedAttention(attention, q, cache.k, cache.v, att);
      k.matmul(lw.wo, att, T, xb, lw.bo);
      if (lw.attnPostNorm) k.rmsnorm(xb, lw.attnPostNorm, c.rmsNormEps, xb);
      k.add(x, xb);

      // SwiGLU feed-forward block (OPT: ReLU, fc1 and fc2 with biases).
      if (lw.ffnNorm) this.norm(x, lw.ffnNorm, lw.ffnNormBias, xb);
      if (this.opt) {
        matmulStack(k, lw.wGateUp, xb, T, [gate], lw.bUp);
        relu(gate);
      } else {
        matmulStack(k, lw.wGateUp, lw.ffnNorm ? xb : x, T, [gate, up]);
        k.siluMul(gate, up, gate);
      }
      k.matmul(lw.wDown, gate, T, xb, lw.bDown);
      if (lw.ffnPostNorm) k.rmsnorm(xb, lw.ffnPostNorm, c.rmsNormEps, xb);
      k.add(x, xb);
    }

    // Final norm and classifier, only for the rows that are sampled.
    const R = batch.logitRows.length;
    const h = s.get('h', R * c.hiddenSize);
    batch.logitRows.forEach((row, i) => h.set(x.subarray(row * c.hiddenSize, (row + 1) * c.hiddenSize), i * c.hiddenSize));
    this.norm(h, w.norm, w.normBias, h);
    const logits = out && out.length >= R * c.vocabSize ? out.subarray(0, R * c.vocabSize) : new Float32Array(R * c.vocabSize);
    k.matmul(w.lmHead, h, R, logits);
    return logits;
  }
}
