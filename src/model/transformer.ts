// The Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral; Qwen2, which is Llama
// The Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral; Qwen2, which is Llama
// with q/k/v biases; Qwen3, which norms each q and k head before RoPE; Qwen3-MoE and Mixtral,
// whose FFN is a routed mixture of experts; Gemma 2/3, which scale the embedding, norm attention
// and FFN outputs again, use GeGLU, soft-caps and sliding-window layers). What a family changes
// is a flag of its config (see architectures/) or the kind of its FFN weights (feed-forward.ts);
// the pass is one. One forward pass runs a ragged batch: any mix of prefill chunks, recomputed
// prefixes and decode tokens, each request with its own block table. Reads top to bottom like
// the math; the kernels carry the speed.
import type { Kernels } from '../kernels/types.js';
import { architecture, type Architecture } from './architectures/index.js';
import { isSlidingLayer, type ModelConfig } from './config.js';
import { feedForward } from './feed-forward.js';
import type { KvCache } from './kv-cache.js';
import { matmulStack } from './matrix-stack.js';
import { ropeInvFreq } from './rope.js';
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

/** How one layer attends: its RoPE frequencies, window (0: none) and soft-cap (0: none). */
interface LayerAttention {
  invFreq: Float32Array;
  slidingWindow: number;
  softcap: number;
}

export class Transformer {
  /** The global layers' RoPE frequencies. */
  readonly invFreq: Float32Array;
  private readonly arch: Architecture;
  private readonly layerAttention: LayerAttention[];
  private readonly scratch = new Scratch();

  constructor(readonly config: ModelConfig, readonly weights: ModelWeights, readonly kernels: Kernels) {
    this.arch = architecture(config.architecture);
    this.invFreq = ropeInvFreq(config);
    // Gemma 3's local layers rotate with their own theta and no scaling.
    const localInvFreq = config.ropeLocalTheta === undefined ? this.invFreq
      : ropeInvFreq({ ...config, ropeTheta: config.ropeLocalTheta, ropeScaling: null, ropeFreqFactors: undefined });
    this.layerAttention = Array.from({ length: config.numLayers }, (_, l) => {
      const local = isSlidingLayer(config, l);
      return { invFreq: local ? localInvFreq : this.invFreq, slidingWindow: local ? config.slidingWindow!.size : 0, softcap: config.attnLogitSoftcap ?? 0 };
    });
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
    for (let l = 0; l < c.numLayers; l++) {
      const lw = w.layers[l]!;
      const cache = kv.layers[l]!;
      const la = this.layerAttention[l]!;

      // Attention block.
      k.rmsnorm(x, lw.attnNorm, c.rmsNormEps, xb);
      matmulStack(k, lw.wqkv, xb, T, [q, kk, vv], lw.bqkv ?? undefined);
      // rmsnorm works on rows of its weight's length: here, one row per head.
      if (lw.qNorm) k.rmsnorm(q, lw.qNorm, c.rmsNormEps, q);
      if (lw.kNorm) k.rmsnorm(kk, lw.kNorm, c.rmsNormEps, kk);
      k.rope(q, batch.positions, c.numHeads, c.headDim, la.invFreq, c.ropeStyle);
      k.rope(kk, batch.positions, c.numKvHeads, c.headDim, la.invFreq, c.ropeStyle);
      k.writeKV(kk, vv, batch.slotMapping, cache.k, cache.v, c.numKvHeads, c.headDim, kv.blockSize);
      k.pagedAttention({ ...attention, slidingWindow: la.slidingWindow, softcap: la.softcap }, q, cache.k, cache.v, att);
      k.matmul(lw.wo, att, T, xb);
      if (lw.postAttnNorm) k.rmsnorm(xb, lw.postAttnNorm, c.rmsNormEps, xb);
      k.add(x, xb);

      // Gated feed-forward block (SwiGLU or Gemma's GeGLU; dense, or routed experts).
      k.rmsnorm(x, lw.ffnNorm, c.rmsNormEps, xb);
      feedForward(k, lw.ffn, xb, T, ffnOut, s, this.arch.ffnActivation);
      if (lw.postFfnNorm) k.rmsnorm(ffnOut, lw.postFfnNorm, c.rmsNormEps, ffnOut);
      k.add(x, ffnOut);
    }

    // Final norm and classifier, only for the rows that are sampled.
    const R = batch.logitRows.length;
    const h = s.get('h', R * c.hiddenSize);
    batch.logitRows.forEach((row, i) => h.set(x.subarray(row * c.hiddenSize, (row + 1) * c.hiddenSize), i * c.hiddenSize));
    k.rmsnorm(h, w.norm, c.rmsNormEps, h);
    const logits = out && out.length >= R * c.vocabSize ? out.subarray(0, R * c.vocabSize) : new Float32Array(R * c.vocabSize);
    k.matmul(w.lmHead, h, R, logits);
    if (c.finalLogitSoftcap) k.softcap(logits, c.finalLogitSoftcap);
    return logits;
  }
}
