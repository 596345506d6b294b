// Turns GGUF metadata (plus the tensor list, which says what keys leave implicit: tied output,
// biases, Llama 3's rope_freqs) into a ModelConfig. Keys are llama.cpp's `{arch}.*` names.

import { toFloat32 } from '../../kernels/dtype.js';
import { architectureByGgufName, SUPPORTED_GGUF_NAMES } from '../architectures/index.js';
import { SMOLLM3_NO_ROPE_STEP } from '../architectures/smollm3.js';
import { validateConfig, yarnMscale, type ModelConfig, type MoeConfig, type RopeScaling } from '../config.js';
import { ModelLoadError } from '../errors.js';
import { ggufArrayLength, ggufNumber, ggufString, type GgufMetadata } from './gguf-types.js';
import type { TensorStore } from './tensor.js';

export function configFromGguf(meta: GgufMetadata, file: string, tensors: TensorStore): ModelConfig {
  const arch = ggufString(meta, 'general.architecture', file);
  if (arch === undefined) throw new ModelLoadError(file, 'metadata general.architecture is missing');
  const num = (key: string): number | undefined => ggufNumber(meta, `${arch}.${key}`, file);
  const expertCount = num('expert_count') ?? 0;
  const family = architectureByGgufName(arch, expertCount > 0);
  if (!family) {
    const dense = architectureByGgufName(arch, false), moe = architectureByGgufName(arch, true);
    if (dense) throw new ModelLoadError(file, `mixture of experts (${arch}.expert_count = ${expertCount}) is not supported for ${arch}`);
    if (moe) throw new ModelLoadError(file, `metadata ${arch}.expert_count is missing (${moe.name} is a mixture of experts)`);
    throw new ModelLoadError(file, `unsupported architecture ${arch}; supported: ${SUPPORTED_GGUF_NAMES}`);
  }

  const req = (key: string): number => {
    const v = num(key);
    if (v === undefined) throw new ModelLoadError(file, `metadata ${arch}.${key} is missing`);
    return v;
  };

  const hiddenSize = req('embedding_length');
  const numHeads = req('attention.head_count');
  const headDim = num('attention.key_length') ?? hiddenSize / numHeads;
  const valueLength = num('attention.value_length');
  if (valueLength !== undefined && valueLength !== headDim) {
    throw new ModelLoadError(file, `attention.value_length ${valueLength} differs from key_length ${headDim}, which is not supported`);
  }
  // Fewer rotary dims than the head (Phi-4-mini: 96 of 128) turn the leading ones (rope.ts).
  const ropeDims = num('rope.dimension_count') ?? headDim;

  const embedding = tensors.info('model.embed_tokens.weight');
  const vocabSize = num('vocab_size') ?? embedding?.shape[0] ?? ggufArrayLength(meta, 'tokenizer.ggml.tokens', file);
  if (vocabSize === undefined) throw new ModelLoadError(file, 'cannot tell the vocabulary size: no vocab_size, token_embd.weight or tokenizer.ggml.tokens');

  const eosTokenIds: number[] = [];
  for (const key of ['eos_token_id', 'eot_token_id', 'eom_token_id']) {
    const id = ggufNumber(meta, `tokenizer.ggml.${key}`, file);
    if (id !== undefined && !eosTokenIds.includes(id)) eosTokenIds.push(id);
  }

  const config: ModelConfig = {
    architecture: family.name,
    hiddenSize,
    intermediateSize: req('feed_forward_length'),
    numLayers: req('block_count'),
    numHeads,
    numKvHeads: num('attention.head_count_kv') ?? numHeads,
    headDim,
    vocabSize,
    maxPositionEmbeddings: req('context_length'),
    rmsNormEps: shortestF32(req('attention.layer_norm_rms_epsilon')),
    ropeTheta: shortestF32(num('rope.freq_base') ?? 10000),
    ropeScaling: ropeScalingFromGguf(meta, arch, file, tensors),
    ropeStyle: family.ggufRopeStyle,
    tieWordEmbeddings: tensors.info('lm_head.weight') === undefined,
    attentionBias: tensors.info('model.layers.0.self_attn.q_proj.bias') !== undefined,
    qkNorm: family.qkNorm,
    bosTokenId: ggufNumber(meta, 'tokenizer.ggml.bos_token_id', file) ?? null,
    eosTokenIds,
  };
  if (family.experts) config.moe = moeFromGguf(meta, arch, file, config.intermediateSize, expertCount);
  if (family.scaleEmbedding) Object.assign(config, gemmaFromGguf(meta, arch, config, file));
  if (ropeDims !== headDim) config.rotaryDim = ropeDims;
  if (family.name === 'smollm3') {
    const noRope = Array.from({ length: config.numLayers }, (_, l) => l).filter((l) => (l + 1) % SMOLLM3_NO_ROPE_STEP === 0);
    if (noRope.length > 0) config.noRopeLayers = noRope;
  }
  const factors = ropeFreqFactors(tensors, file);
  if (factors) {
    if (config.ropeScaling) throw new ModelLoadError(file, 'rope_freqs.weight and rope.scaling keys are both present');
    config.ropeFreqFactors = factors;
  }
  validateConfig(config, file);
  return config;
}

/**
 * Gemma's keys as llama.cpp's load_arch_hparams reads them (src/models/gemma2.cpp, gemma3.cpp),
 * defaults included. Norms are stored with their 1 added (no offset). The attention scale is not
 * in the file: llama.cpp takes (hidden/heads)^-½ for the 27B models (46 layers for Gemma 2, 62 for
 * Gemma 3, whose query_pre_attn_scalar is hidden/heads) and headDim^-½ for the rest.
 */
function gemmaFromGguf(meta: GgufMetadata, arch: string, c: ModelConfig, file: string): Partial<ModelConfig> {
  const num = (key: string): number | undefined => ggufNumber(meta, `${arch}.${key}`, file);
  const patternKey = `${arch}.attention.sliding_window_pattern`;
  if (meta.get(patternKey)?.type === 'array') throw new ModelLoadError(file, `a per-layer ${patternKey} array is not supported (only a repeating pattern)`);
  const is27b = c.numLayers === (arch === 'gemma2' ? 46 : 62);
  const out: Partial<ModelConfig> = { queryPreAttnScalar: is27b ? c.hiddenSize / c.numHeads : c.headDim };
  const localTheta = num('rope.freq_base_swa');
  if (arch === 'gemma2') {
    out.slidingWindow = { size: num('attention.sliding_window') ?? 4096, pattern: num('attention.sliding_window_pattern') ?? 2 };
    out.attnLogitSoftcap = shortestF32(num('attn_logit_softcapping') ?? 50);
    out.finalLogitSoftcap = shortestF32(num('final_logit_softcapping') ?? 30);
    // Gemma 2's local layers keep the global scaling; a separate theta is all a file could change.
    if (localTheta !== undefined && localTheta !== c.ropeTheta) {
      if (c.ropeScaling) throw new ModelLoadError(file, `${arch}.rope.freq_base_swa with rope scaling is not supported`);
      out.ropeLocalTheta = shortestF32(localTheta);
    }
  } else {
    const window = num('attention.sliding_window');
    if (window !== undefined && window > 0) {
      out.slidingWindow = { size: window, pattern: num('attention.sliding_window_pattern') ?? 6 };
      out.ropeLocalTheta = shortestF32(localTheta ?? 10000);
    }
    const finalCap = num('final_logit_softcapping');
    if (finalCap) out.finalLogitSoftcap = shortestF32(finalCap);
  }
  return out;
}

/**
 * The experts as llama.cpp reads them: each expert's width is feed_forward_length for llama
 * (Mixtral), expert_feed_forward_length (else feed_forward_length / expert_used_count) for
 * qwen3moe; both graphs renormalise the top-k weights.
 */
function moeFromGguf(meta: GgufMetadata, arch: string, file: string, feedForward: number, numExperts: number): MoeConfig {
  const used = ggufNumber(meta, `${arch}.expert_used_count`, file);
  if (used === undefined || used <= 0) throw new ModelLoadError(file, `metadata ${arch}.expert_used_count is missing`);
  const width = ggufNumber(meta, `${arch}.expert_feed_forward_length`, file);
  return {
    numExperts,
    numExpertsPerTok: used,
    expertIntermediateSize: arch === 'llama' ? feedForward : width ?? Math.floor(feedForward / used),
    normTopkProb: true,
  };
}

function ropeScalingFromGguf(meta: GgufMetadata, arch: string, file: string, tensors: TensorStore): RopeScaling | null {
  const type = ggufString(meta, `${arch}.rope.scaling.type`, file);
  const factor = ggufNumber(meta, `${arch}.rope.scaling.factor`, file);
  const original = ggufNumber(meta, `${arch}.rope.scaling.original_context_length`, file);
  const attnFactor = shortestF32(ggufNumber(meta, `${arch}.rope.scaling.attn_factor`, file) ?? 1);
  const logMul = ggufNumber(meta, `${arch}.rope.scaling.yarn_log_multiplier`, file);
  if (logMul !== undefined && logMul !== 0) throw new ModelLoadError(file, `${arch}.rope.scaling.yarn_log_multiplier is not supported`);
  // Phi-3's LongRoPE: both factor sets as tensors (llama.cpp picks one by its context size).
  const long = tensors.info('rope_factors_long.weight'), short = tensors.info('rope_factors_short.weight');
  if (long || short) {
    if (!long || !short) throw new ModelLoadError(file, 'rope_factors_long.weight and rope_factors_short.weight must come together');
    if (type !== undefined && type !== 'none' && type !== 'linear') throw new ModelLoadError(file, `rope_factors tensors with rope scaling type ${type} are not supported`);
    if (factor !== undefined && factor !== 1) throw new ModelLoadError(file, `rope_factors tensors with rope.scaling.factor ${factor} are not supported`);
    const read = (name: string, info: { dtype: string; shape: number[] }) => {
      if (info.dtype !== 'f32' || info.shape.length !== 1) throw new ModelLoadError(file, `${name} should be a 1-D F32 tensor`);
      return Array.from(toFloat32('f32', tensors.read(name).data, info.shape[0]!));
    };
    return {
      type: 'longrope', longFactor: read('rope_factors_long.weight', long), shortFactor: read('rope_factors_short.weight', short),
      originalMaxPositionEmbeddings: original ?? req(meta, `${arch}.context_length`, file), attentionFactor: attnFactor,
    };
  }
  if (attnFactor !== 1 && type !== 'yarn') throw new ModelLoadError(file, `${arch}.rope.scaling.attn_factor ${attnFactor} is only supported with yarn or rope_factors tensors`);
  if (type === 'yarn') {
    if (factor === undefined) throw new ModelLoadError(file, `${arch}.rope.scaling.type is yarn but no factor is given`);
    const f = shortestF32(factor);
    return {
      type: 'yarn', factor: f, originalMaxPositionEmbeddings: original ?? req(meta, `${arch}.context_length`, file),
      betaFast: shortestF32(ggufNumber(meta, `${arch}.rope.scaling.yarn_beta_fast`, file) ?? 32),
      betaSlow: shortestF32(ggufNumber(meta, `${arch}.rope.scaling.yarn_beta_slow`, file) ?? 1),
      attentionFactor: yarnMscale(f) * attnFactor,
    };
  }
  // Older converters wrote only this key for linear scaling.
  const legacyLinear = ggufNumber(meta, `${arch}.rope.scale_linear`, file);
  if (type === undefined || type === 'none') {
    return legacyLinear !== undefined && legacyLinear !== 1 ? { type: 'linear', factor: shortestF32(legacyLinear) } : null;
  }
  if (type === 'linear') {
    const f = factor ?? legacyLinear;
    if (f === undefined) throw new ModelLoadError(file, `${arch}.rope.scaling.type is linear but no factor is given`);
    return { type: 'linear', factor: shortestF32(f) };
  }
  throw new ModelLoadError(file, `rope scaling type ${type} is not supported; supported: linear, yarn, none (llama3 via rope_freqs.weight, longrope via rope_factors_long/short)`);
}

function req(meta: GgufMetadata, key: string, file: string): number {
  const v = ggufNumber(meta, key, file);
  if (v === undefined) throw new ModelLoadError(file, `metadata ${key} is missing`);
  return v;
}

function ropeFreqFactors(tensors: TensorStore, file: string): Float32Array | undefined {
  const info = tensors.info('rope_freqs.weight');
  if (!info) return undefined;
  if (info.dtype !== 'f32' || info.shape.length !== 1) {
    throw new ModelLoadError(file, `rope_freqs.weight should be a 1-D F32 tensor, found ${info.dtype} [${info.shape.join(', ')}]`);
  }
  return toFloat32('f32', tensors.read('rope_freqs.weight').data, info.shape[0]!);
}

/**
 * The shortest decimal that is the same f32: GGUF stores eps and theta as f32, and 1e-6 should
 * come back as 1e-6 (as in config.json), not 9.999999974752427e-7. Writing it back as f32 gives
 * the same bits.
 */
export function shortestF32(v: number): number {
  if (!Number.isFinite(v)) return v;
  const target = Math.fround(v);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  return target;
}
