// Rotary embedding: the inverse frequencies with the context-extension schemes folded in (so the
// rope kernel only ever sees one table), and the rotation of the first rotaryDim dims of each
// head with its cos/sin scale (LongRoPE's and YaRN's attention factor).
//
// Schemes that depend on the context length (LongRoPE's short/long set, dynamic NTK) are fixed
// once for the context the model serves (the engine's --max-model-len, else the model's own
// maxPositionEmbeddings), as llama.cpp fixes them by its n_ctx: a K cached under one table must
// stay valid for every later token, which transformers' per-call switch (by the current sequence
// length) does not keep.
import type { Kernels, RopeStyle } from '../kernels/types.js';
import type { ModelConfig } from './config.js';

/** What the forward pass needs to rotate q and k. */
export interface RopeTables {
  /** [rotaryDim/2] inverse frequencies. */
  invFreq: Float32Array;
  /** Leading dims of each head that turn; the rest pass unchanged. */
  rotaryDim: number;
  /** Multiplies the rotated dims (cos and sin): LongRoPE's and YaRN's attention factor, else 1. */
  scale: number;
}

/** The tables for a model serving `contextLength` positions (default: its own context). */
export function ropeTables(config: ModelConfig, contextLength = config.maxPositionEmbeddings): RopeTables {
  const rs = config.ropeScaling;
  const scale = rs?.type === 'longrope' || rs?.type === 'yarn' ? rs.attentionFactor : 1;
  return { invFreq: ropeInvFreq(config, contextLength), rotaryDim: config.rotaryDim ?? config.headDim, scale };
}

/** Whether the tables change with the context served (LongRoPE's short/long set, dynamic NTK). */
export function ropeDependsOnContext(config: ModelConfig): boolean {
  const type = config.ropeScaling?.type;
  return type === 'longrope' || type === 'dynamic';
}

/** Whether two layers' tables rotate alike (both absent counts as alike). */
export function sameRope(a: RopeTables | null, b: RopeTables | null): boolean {
  if (a === null || b === null) return a === b;
  return a.rotaryDim === b.rotaryDim && a.scale === b.scale && a.invFreq.every((f, i) => f === b.invFreq[i]);
}

/**
 * inv_freq[j] = theta^(-2j/rotaryDim), adjusted for the config's scaling and GGUF rope_freqs
 * factors, as transformers' ROPE_INIT_FUNCTIONS and llama.cpp's ggml_rope_ext compute it.
 * `contextLength` is the context served (default maxPositionEmbeddings).
 */
export function ropeInvFreq(config: ModelConfig, contextLength = config.maxPositionEmbeddings): Float32Array {
  const { ropeScaling } = config;
  const dim = config.rotaryDim ?? config.headDim;
  const half = dim / 2;
  let theta = config.ropeTheta;
  if (ropeScaling?.type === 'dynamic' && contextLength > ropeScaling.originalMaxPositionEmbeddings) {
    // transformers' _compute_dynamic_ntk_parameters at seq_len = contextLength.
    const { factor, originalMaxPositionEmbeddings: oldLen } = ropeScaling;
    theta *= ((factor * contextLength) / oldLen - (factor - 1)) ** (dim / (dim - 2));
  }
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / theta ** ((2 * j) / dim);

  if (ropeScaling?.type === 'linear') {
    for (let j = 0; j < half; j++) inv[j] = inv[j]! / ropeScaling.factor;
  } else if (ropeScaling?.type === 'llama3') {
    // Hugging Face's _compute_llama3_parameters: long wavelengths are slowed by
    // `factor`, short ones kept, the band between interpolated smoothly.
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldLen } = ropeScaling;
    const lowFreqWavelen = oldLen / lowFreqFactor;
    const highFreqWavelen = oldLen / highFreqFactor;
    for (let j = 0; j < half; j++) {
      const wavelen = (2 * Math.PI) / inv[j]!;
      if (wavelen > lowFreqWavelen) inv[j] = inv[j]! / factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (oldLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[j] = ((1 - smooth) * inv[j]!) / factor + smooth * inv[j]!;
      }
    }
  } else if (ropeScaling?.type === 'longrope') {
    // llama.cpp's get_rope_factors: the long set once the context passes the original one.
    const factors = contextLength > ropeScaling.originalMaxPositionEmbeddings ? ropeScaling.longFactor : ropeScaling.shortFactor;
    for (let j = 0; j < half; j++) inv[j] = inv[j]! / factors[j]!;
  } else if (ropeScaling?.type === 'yarn') {
    // transformers' _compute_yarn_parameters (truncate: true) = ggml's rope_yarn with
    // ggml_rope_yarn_corr_dims: frequencies below `low` kept, past `high` divided by factor.
    const { factor, originalMaxPositionEmbeddings: oldLen, betaFast, betaSlow } = ropeScaling;
    const correctionDim = (rotations: number) => (dim * Math.log(oldLen / (rotations * 2 * Math.PI))) / (2 * Math.log(config.ropeTheta));
    const low = Math.max(0, Math.floor(correctionDim(betaFast)));
    const high = Math.min(dim - 1, Math.ceil(correctionDim(betaSlow)));
    const span = high === low ? 0.001 : high - low;
    for (let j = 0; j < half; j++) {
      const ramp = Math.min(1, Math.max(0, (j - low) / span));
      const extrapolation = 1 - ramp; // weight of the kept frequency
      inv[j] = (inv[j]! / factor) * (1 - extrapolation) + inv[j]! * extrapolation;
    }
  }
  // GGUF files of llama3-scaled models carry the scaling as per-pair divisors.
  const factors = config.ropeFreqFactors;
  if (factors) for (let j = 0; j < half; j++) inv[j] = inv[j]! / factors[j]!;
  return Float32Array.from(inv);
}

/**
 * Rotates x [T][heads][headDim] in place: the first rotaryDim dims of each head turn (pairs
 * within them, in `style`), then are scaled by tables.scale; the other dims pass, as ggml_rope_ext
 * with n_dims < head size and transformers' partial rotary do. `gather` is scratch space.
 */
export function applyRope(
  k: Kernels, x: Float32Array, positions: Int32Array, heads: number, headDim: number,
  tables: RopeTables, style: RopeStyle, gather: (size: number) => Float32Array,
): void {
  const { rotaryDim: rot, invFreq, scale } = tables;
  if (rot === headDim) {
    k.rope(x, positions, heads, headDim, invFreq, style);
    if (scale !== 1) for (let i = 0; i < x.length; i++) x[i] = x[i]! * scale;
    return;
  }
  const rows = positions.length * heads;
  const buf = gather(rows * rot);
  for (let r = 0; r < rows; r++) buf.set(x.subarray(r * headDim, r * headDim + rot), r * rot);
  k.rope(buf, positions, heads, rot, invFreq, style);
  for (let r = 0; r < rows; r++) {
    const src = r * rot, dst = r * headDim;
    for (let i = 0; i < rot; i++) x[dst + i] = buf[src + i]! * scale;
  }
}
