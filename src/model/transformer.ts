// The Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral; Qwen2, which is Llama
// with q/k/v biases; Qwen3, which norms each q and k head before RoPE; Qwen3-MoE and Mixtral,
// whose FFN is a routed mixture of experts; Gemma 2/3, which scale the embedding, norm attention
// and FFN outputs again, use GeGLU, soft-caps and sliding-window layers; Phi-3 with partial
// RoPE; OLMo 2 with post-norms; SmolLM3 with NoPE layers; OPT with learned positions,
// LayerNorm, biases and a ReLU FFN). What a family changes is a flag of its config (see
// architectures/) or the kind of its FFN weights (feed-forward.ts); the pass is one. One forward
// pass runs a ragged batch: any mix of prefill chunks, recomputed prefixes and decode tokens,
// each request with its own block table. Reads top to bottom like the math; the kernels carry
// the speed.
import type { Kernels } from '../kernels/types.js';
import { architecture, type Architecture } from './architectures/index.js';
import { isSlidingLayer, type ModelConfig } from './config.js';
import { feedForward } from './feed-forward.js';
import type { KvCache } from './kv-cache.js';
import { layerNorm, relu } from './layer-norm.js';
import { matmulStack } from './matrix-stack.js';
import { applyRope, ropeTables, sameRope, type RopeTables } from './rope.js';
import { Scratch } from './scratch.js';
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

/** How one layer attends: its RoPE tables (null: no RoPE), window (0: none) and soft-cap (0: none). */
interface LayerAttention {
  rope: RopeTables | null;
  slidingWindow: number;
  softcap: number;
}

export class Transformer {
  private readonly arch: Architecture;
  private layerAttention: LayerAttention[];
  private readonly scratch = new Scratch();
  /** OPT's decoder: learned positions at this row offset, LayerNorm, ReLU FFN (null otherwise). */
  private readonly opt: { positionOffset: number } | null;
  /** The context the RoPE tables were built for (see setContextLength). */
  private context: number;

  constructor(readonly config: ModelConfig, readonly weights: ModelWeights, readonly kernels: Kernels) {
    this.arch = architecture(config.architecture);
    this.opt = this.arch.opt ?? null;
    this.context = config.maxPositionEmbeddings;
    this.layerAttention = this.attentionFor(this.context);
  }

  /** The context length the RoPE tables serve. */
  get contextLength(): number {
    return this.context;
  }

  /**
   * Fixes the context served (the engine's --max-model-len) before the first forward pass: RoPE
   * schemes that depend on it (LongRoPE's short or long set, dynamic NTK) take it, as llama.cpp
   * takes its n_ctx. K already cached under the old tables would be wrong under the new ones, so
   * this belongs to start-up. Returns whether the tables changed.
   */
  setContextLength(contextLength: number): boolean {
    if (!Number.isInteger(contextLength) || contextLength < 1) throw new RangeError(`context length must be a positive integer; got ${contextLength}`);
    const before = this.layerAttention;
    this.context = contextLength;
    this.layerAttention = this.attentionFor(contextLength);
    return this.layerAttention.some((la, l) => !sameRope(la.rope, before[l]!.rope));
  }

  private attentionFor(contextLength: number): LayerAttention[] {
    const { config } = this;
    const rope = ropeTables(config, contextLength);
    // Gemma 3's local layers rotate with their own theta and no scaling.
    const localRope = config.ropeLocalTheta === undefined ? rope
      : ropeTables({ ...config, ropeTheta: config.ropeLocalTheta, ropeScaling: null, ropeFreqFactors: undefined }, contextLength);
    const noRope = new Set(config.noRopeLayers ?? []);
    return Array.from({ length: config.numLayers }, (_, l) => {
      const local = isSlidingLayer(config, l);
      return {
        // OPT's positions are learned (added to the embedding); SmolLM3's NoPE layers turn nothing.
        rope: this.opt || noRope.has(l) ? null : local ? localRope : rope,
        slidingWindow: local ? config.slidingWindow!.size : 0,
        softcap: config.attnLogitSoftcap ?? 0,
      };
    });
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
      scale: 1 / Math.sqrt(c.queryPreAttnScalar ?? c.headDim),
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
    const ffnOut = s.get('ffnOut', T * c.hiddenSize);

    k.embedding(w.embed, batch.tokens, x);
    if (this.arch.scaleEmbedding) {
      // √hidden rounded to f32 first, as llama.cpp's sqrtf and transformers' normalizer tensor.
      const scale = Math.fround(Math.sqrt(c.hiddenSize));
      for (let i = 0; i < x.length; i++) x[i] = x[i]! * scale;
    }
    if (this.opt) {
      // OPT's learned absolute positions: row position + 2 of the table.
      const offset = this.opt.positionOffset;
      k.embedding(w.posEmbed!, Int32Array.from(batch.positions, (p) => p + offset), xb);
      k.add(x, xb);
    }
    for (let l = 0; l < c.numLayers; l++) {
      const lw = w.layers[l]!;
      const cache = kv.layers[l]!;
      const la = this.layerAttention[l]!;

      // Attention block (OLMo 2 norms its output instead of its input).
      if (lw.attnNorm) this.norm(x, lw.attnNorm, lw.attnNormBias, xb);
      matmulStack(k, lw.wqkv, lw.attnNorm ? xb : x, T, [q, kk, vv], lw.bqkv ?? undefined);
      // rmsnorm works on rows of its weight's length: one row per head (Qwen3), or per token (OLMo 2).
      if (lw.qNorm) k.rmsnorm(q, lw.qNorm, c.rmsNormEps, q);
      if (lw.kNorm) k.rmsnorm(kk, lw.kNorm, c.rmsNormEps, kk);
      if (la.rope) {
        const gather = (n: number) => s.get('rope', n);
        applyRope(k, q, batch.positions, c.numHeads, c.headDim, la.rope, c.ropeStyle, gather);
        applyRope(k, kk, batch.positions, c.numKvHeads, c.headDim, la.rope, c.ropeStyle, gather);
      }
      k.writeKV(kk, vv, batch.slotMapping, cache.k, cache.v, c.numKvHeads, c.headDim, kv.blockSize);
      k.pagedAttention({ ...attention, slidingWindow: la.slidingWindow, softcap: la.softcap }, q, cache.k, cache.v, att);
      k.matmul(lw.wo, att, T, xb, lw.bo);
      if (lw.postAttnNorm) k.rmsnorm(xb, lw.postAttnNorm, c.rmsNormEps, xb);
      k.add(x, xb);

      // Feed-forward block: gated (SwiGLU or Gemma's GeGLU; dense, or routed experts), or OPT's
      // ReLU fc1/fc2 with biases. OLMo 2 norms its output instead of its input.
      if (lw.ffnNorm) this.norm(x, lw.ffnNorm, lw.ffnNormBias, xb);
      feedForward(k, lw.ffn, lw.ffnNorm ? xb : x, T, ffnOut, s, this.arch.ffnActivation);
      if (lw.postFfnNorm) k.rmsnorm(ffnOut, lw.postFfnNorm, c.rmsNormEps, ffnOut);
      k.add(x, ffnOut);
    }

    // Final norm and classifier, only for the rows that are sampled.
    const R = batch.logitRows.length;
    const h = s.get('h', R * c.hiddenSize);
    batch.logitRows.forEach((row, i) => h.set(x.subarray(row * c.hiddenSize, (row + 1) * c.hiddenSize), i * c.hiddenSize));
    this.norm(h, w.norm, w.normBias, h);
    const logits = out && out.length >= R * c.vocabSize ? out.subarray(0, R * c.vocabSize) : new Float32Array(R * c.vocabSize);
    k.matmul(w.lmHead, h, R, logits);
    if (c.finalLogitSoftcap) k.softcap(logits, c.finalLogitSoftcap);
    return logits;
  }
}
