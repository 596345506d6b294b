// What shape a model has, whatever file it came from: the one ModelConfig every loader produces
// (HF config.json here; GGUF and llama2.c headers in their readers) and the checks that make a
// nonsensical config fail at load rather than as a wrong answer later.

import { z } from 'zod';
import { architecture, architectureByHfName, SUPPORTED_HF_CLASSES, type Architecture, type ArchitectureName } from './architectures/index.js';
import { optConfigFromHf, optHfConfigJson } from './config-opt.js';
import { ModelLoadError } from './errors.js';

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | { type: 'linear'; factor: number }
  /**
   * Phi-3's LongRoPE (HF longrope, formerly su): per-frequency divisors, the short set for a
   * context within originalMaxPositionEmbeddings and the long set past it, and cos/sin scaled by
   * attentionFactor. Which set a model runs with is fixed by the context it serves (rope.ts).
   */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositionEmbeddings: number; attentionFactor: number }
  /** YaRN (Qwen3's long context): frequencies blended between interpolated and kept by a ramp over [betaFast, betaSlow] rotations. */
  | { type: 'yarn'; factor: number; originalMaxPositionEmbeddings: number; betaFast: number; betaSlow: number; attentionFactor: number }
  /** Dynamic NTK: theta raised for contexts past originalMaxPositionEmbeddings. */
  | { type: 'dynamic'; factor: number; originalMaxPositionEmbeddings: number };

export interface ModelConfig {
  architecture: ArchitectureName;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** 'interleaved': rotate pairs (2i, 2i+1) (GGUF llama, llama2.c); 'neox': rotate i with i+headDim/2 (HF, GGUF qwen2). */
  ropeStyle: 'interleaved' | 'neox';
  /**
   * Per-frequency divisors (headDim/2 of them) stored in the file instead of scaling parameters:
   * Llama 3 GGUFs carry llama3 scaling only as the `rope_freqs.weight` tensor, whose parameters
   * cannot be recovered from it. Absent when the file has no such tensor (rope.ts applies both).
   */
  ropeFreqFactors?: Float32Array;
  /** Dims of each q/k head that RoPE turns (the first ones); the rest pass. Absent: headDim (Phi-4-mini: 96 of 128). */
  rotaryDim?: number;
  /** Layers that apply no RoPE (SmolLM3's NoPE layers, every 4th). Absent: none. */
  noRopeLayers?: number[];
  /** No lm_head tensor: logits use embed_tokens. */
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (qwen2). */
  attentionBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (qwen3). */
  qkNorm: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /**
   * Added to every RMSNorm weight at load: 1 for a Gemma config.json model, whose RMSNorm
   * computes x·(1 + w); absent (0) where the file stores the factor itself (every GGUF: llama.cpp's
   * converter adds the 1).
   */
  normWeightOffset?: number;
  /** Attention scores are scaled by queryPreAttnScalar^-½ (Gemma); absent: headDim^-½. */
  queryPreAttnScalar?: number;
  /**
   * Sliding-window attention (Gemma): on local layers a query at position p sees the `size`
   * positions p - size + 1 .. p. Layer il is local when il % pattern < pattern - 1 (see
   * isSlidingLayer). Absent: every layer sees the whole context.
   */
  slidingWindow?: { size: number; pattern: number };
  /** RoPE theta of the local layers, unscaled (Gemma 3's rope_local_base_freq); absent: as global layers. */
  ropeLocalTheta?: number;
  /** Attention scores s become cap·tanh(s/cap) before the softmax (Gemma 2). */
  attnLogitSoftcap?: number;
  /** Logits become cap·tanh(logit/cap) (Gemma 2). */
  finalLogitSoftcap?: number;
  /** A routed mixture of experts in place of every layer's FFN (qwen3moe, mixtral); absent: dense. */
  moe?: MoeConfig;
}

/** The routed experts of a mixture-of-experts FFN (see moe.ts for the math). */
export interface MoeConfig {
  numExperts: number;
  /** Experts each token is routed to (top-k of the router's softmax). */
  numExpertsPerTok: number;
  /** Rows of each expert's gate and up projections. */
  expertIntermediateSize: number;
  /** Whether the top-k weights are divided by their sum (Mixtral always; Qwen3-MoE's norm_topk_prob). */
  normTopkProb: boolean;
}

/** Whether layer `layer` attends through the sliding window (llama.cpp's set_swa_pattern). */
export function isSlidingLayer(config: ModelConfig, layer: number): boolean {
  const w = config.slidingWindow;
  if (!w) return false;
  return w.pattern === 0 || layer % w.pattern < w.pattern - 1;
}

const posInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();

const ropeScalingSchema = z.looseObject({
  rope_type: z.string().optional(),
  type: z.string().optional(),
  factor: z.number().positive().optional(),
  low_freq_factor: z.number().positive().optional(),
  high_freq_factor: z.number().positive().optional(),
  original_max_position_embeddings: posInt.optional(),
  rope_theta: z.number().positive().optional(),
  short_factor: z.array(z.number().positive()).optional(),
  long_factor: z.array(z.number().positive()).optional(),
  attention_factor: z.number().positive().optional(),
  beta_fast: z.number().positive().optional(),
  beta_slow: z.number().positive().optional(),
  // Refused by name: no family here needs them.
  mscale: z.number().optional(),
  mscale_all_dim: z.number().optional(),
  short_mscale: z.number().optional(),
  long_mscale: z.number().optional(),
  truncate: z.boolean().optional(),
  partial_rotary_factor: z.number().positive().optional(),
});

const hfConfigSchema = z.looseObject({
  architectures: z.array(z.string()).optional(),
  model_type: z.string().optional(),
  hidden_size: posInt,
  intermediate_size: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  num_key_value_heads: posInt.nullish(),
  head_dim: posInt.nullish(),
  vocab_size: posInt,
  max_position_embeddings: posInt.optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: ropeScalingSchema.nullish(),
  // transformers v5 moves rope_theta and rope_scaling here.
  rope_parameters: ropeScalingSchema.nullish(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  hidden_act: z.string().optional(),
  // Gemma's names for its activation, scale, local RoPE and layer pattern.
  hidden_activation: z.string().optional(),
  query_pre_attn_scalar: z.number().positive().optional(),
  rope_local_base_freq: z.number().positive().optional(),
  sliding_window_pattern: z.number().int().nonnegative().optional(),
  bos_token_id: tokenId.nullish(),
  eos_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
  sliding_window: posInt.nullish(),
  use_sliding_window: z.boolean().optional(),
  layer_types: z.array(z.string()).optional(),
  // Phi-3 keeps LongRoPE's original context at the top level.
  original_max_position_embeddings: posInt.optional(),
  // SmolLM3: 1 for layers with RoPE, 0 for NoPE layers.
  no_rope_layers: z.array(z.number().int().min(0).max(1)).optional(),
  no_rope_layer_interval: posInt.optional(),
  // Features of other families that a config of these classes could still carry: each is
  // refused by name rather than ignored (see unsupportedFeatures).
  num_local_experts: z.number().int().nonnegative().nullish(),
  num_experts: z.number().int().nonnegative().nullish(),
  num_experts_per_tok: posInt.nullish(),
  moe_intermediate_size: posInt.nullish(),
  norm_topk_prob: z.boolean().nullish(),
  decoder_sparse_step: z.number().int().nonnegative().nullish(),
  mlp_only_layers: z.array(z.number().int()).nullish(),
  shared_expert_intermediate_size: z.number().int().nonnegative().nullish(),
  partial_rotary_factor: z.number().positive().nullish(),
  attn_logit_softcapping: z.number().nullish(),
  lm_head_bias: z.boolean().optional(),
  clip_qkv: z.number().nullish(),
  final_logit_softcapping: z.number().nullish(),
});

/** Parses an HF config.json object (already JSON-decoded); `file` names it in errors. */
export function configFromHf(json: unknown, file: string): ModelConfig {
  const arch = hfArchitecture(json, file);
  if (arch.opt) return optConfigFromHf(json, file);
  const parsed = hfConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelLoadError(file, `invalid config.json: ${issues}`);
  }
  const c = parsed.data;
  // Gemma's modules read hidden_activation; older Gemma configs carry both keys.
  const act = arch.ffnActivation === 'silu' ? c.hidden_act : c.hidden_activation ?? c.hidden_act;
  const wantAct = arch.ffnActivation === 'silu' ? 'silu' : 'gelu_pytorch_tanh';
  if (act !== undefined && act !== wantAct) {
    throw new ModelLoadError(file, `hidden_act ${act} is not supported for ${arch.name}; supported: ${wantAct}`);
  }
  unsupportedFeatures(c, arch, file);

  const trainedPositions = c.max_position_embeddings ?? arch.defaultMaxPositions;
  let maxPositionEmbeddings = trainedPositions;
  // Mistral v0.1 attends over a 4096-token window (Phi-3-mini over 2047, as transformers runs
  // it); capping the context keeps full attention exact. Mixtral's attention is Mistral's (its
  // released configs set no window).
  const isMistral = c.model_type === 'mistral' || (c.architectures ?? []).includes('MistralForCausalLM') || arch.name === 'mixtral';
  if ((isMistral || arch.name === 'phi3') && c.sliding_window != null) maxPositionEmbeddings = Math.min(maxPositionEmbeddings, c.sliding_window);
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const partialRotary = c.partial_rotary_factor ?? c.rope_parameters?.partial_rotary_factor ?? 1;
  const rotaryDim = Math.floor(headDim * partialRotary);

  const eos = c.eos_token_id;
  const config: ModelConfig = {
    architecture: arch.name,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    headDim,
    vocabSize: c.vocab_size,
    maxPositionEmbeddings,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    ropeTheta: c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000,
    ropeScaling: ropeScalingFromHf(c.rope_scaling ?? c.rope_parameters ?? null, file, {
      maxPositions: trainedPositions, originalMaxPositions: c.original_max_position_embeddings,
    }),
    ropeStyle: 'neox',
    tieWordEmbeddings: c.tie_word_embeddings ?? arch.defaultTiedEmbeddings,
    attentionBias: arch.hfQkvBias === 'always' || (arch.hfQkvBias === 'config' && c.attention_bias === true),
    qkNorm: arch.qkNorm,
    bosTokenId: c.bos_token_id ?? null,
    eosTokenIds: eos == null ? [] : Array.isArray(eos) ? [...new Set(eos)] : [eos],
  };
  const moe = moeFromHf(c, arch, file);
  if (moe) config.moe = moe;
  if (arch.scaleEmbedding) Object.assign(config, gemmaFromHf(c, json as Record<string, unknown>, arch, file, trainedPositions));
  if (rotaryDim !== headDim) config.rotaryDim = rotaryDim;
  // Dynamic NTK exists to run past the trained context: serve factor × original, with the table
  // for that length (rope.ts).
  const rs = config.ropeScaling;
  if (rs?.type === 'dynamic') config.maxPositionEmbeddings = Math.max(maxPositionEmbeddings, Math.floor(rs.factor * rs.originalMaxPositionEmbeddings));
  const noRope = arch.name === 'smollm3' ? smollm3NoRopeLayers(c, file) : [];
  if (noRope.length > 0) config.noRopeLayers = noRope;
  validateConfig(config, file);
  return config;
}

/**
 * The experts of a mixture-of-experts family, with transformers' defaults where it has one that
 * matters (Qwen3MoeConfig.norm_topk_prob is false); the sizes must be given. What the shared pass
 * does not do is refused by name: dense layers among sparse ones, shared experts.
 */
function moeFromHf(c: z.infer<typeof hfConfigSchema>, arch: Architecture, file: string): MoeConfig | undefined {
  if (arch.experts === null) return undefined;
  const refuse = (what: string) => { throw new ModelLoadError(file, `${what} is not supported`); };
  const need = <T>(v: T | null | undefined, key: string): T => {
    if (v == null) throw new ModelLoadError(file, `${arch.hfClasses[0]} needs ${key} in config.json`);
    return v;
  };
  if (c.decoder_sparse_step != null && c.decoder_sparse_step !== 1) refuse(`decoder_sparse_step ${c.decoder_sparse_step} (dense FFN layers between sparse ones)`);
  if (c.mlp_only_layers && c.mlp_only_layers.length > 0) refuse(`mlp_only_layers ${c.mlp_only_layers.join(', ')} (dense FFN layers among sparse ones)`);
  if (c.shared_expert_intermediate_size) refuse(`shared_expert_intermediate_size ${c.shared_expert_intermediate_size} (a shared expert)`);
  if (arch.name === 'mixtral') {
    return {
      numExperts: need(c.num_local_experts, 'num_local_experts'),
      numExpertsPerTok: need(c.num_experts_per_tok, 'num_experts_per_tok'),
      expertIntermediateSize: c.intermediate_size,
      normTopkProb: true,
    };
  }
  return {
    numExperts: need(c.num_experts, 'num_experts'),
    numExpertsPerTok: need(c.num_experts_per_tok, 'num_experts_per_tok'),
    expertIntermediateSize: need(c.moe_intermediate_size, 'moe_intermediate_size'),
    normTopkProb: c.norm_topk_prob ?? false,
  };
}

/**
 * Gemma 2 / 3 fields of a config.json, with transformers' defaults for keys it omits (Gemma2Config:
 * soft-caps 50 and 30, window 4096; Gemma3TextConfig: window 4096, pattern 6, local theta 10000).
 */
function gemmaFromHf(
  c: z.infer<typeof hfConfigSchema>, raw: Record<string, unknown>, arch: Architecture, file: string, trainedPositions: number,
): Partial<ModelConfig> {
  const out: Partial<ModelConfig> = { normWeightOffset: 1, queryPreAttnScalar: c.query_pre_attn_scalar ?? 256 };
  const window = c.sliding_window === undefined ? 4096 : c.sliding_window;
  let pattern = c.sliding_window_pattern ?? arch.defaultSlidingWindowPattern;
  if (c.layer_types) {
    // transformers ≥ 4.53 lists each layer; llama.cpp only knows the repeating pattern.
    const firstFull = c.layer_types.indexOf('full_attention');
    pattern = firstFull < 0 ? 0 : firstFull + 1;
    const bad = c.layer_types.findIndex((t, i) => t !== (pattern === 0 || i % pattern < pattern - 1 ? 'sliding_attention' : 'full_attention'));
    if (bad >= 0 || c.layer_types.length !== c.num_hidden_layers) {
      throw new ModelLoadError(file, `layer_types ${c.layer_types.join(', ')} is not a repeating pattern of local layers then one global layer`);
    }
  }
  if (window !== null && pattern !== 1) out.slidingWindow = { size: window, pattern };
  if (arch.name === 'gemma2') {
    const attnCap = c.attn_logit_softcapping === undefined ? 50 : c.attn_logit_softcapping;
    const finalCap = c.final_logit_softcapping === undefined ? 30 : c.final_logit_softcapping;
    if (attnCap !== null) out.attnLogitSoftcap = attnCap;
    if (finalCap !== null) out.finalLogitSoftcap = finalCap;
    if (c.rope_local_base_freq !== undefined) throw new ModelLoadError(file, 'rope_local_base_freq is not a Gemma 2 key');
  } else {
    // As llama.cpp's converter, which asserts it away: Gemma 3 has no attention soft-capping.
    if (c.attn_logit_softcapping != null) throw new ModelLoadError(file, 'attn_logit_softcapping is not supported for gemma3');
    if (c.final_logit_softcapping != null) out.finalLogitSoftcap = c.final_logit_softcapping;
    // transformers v5 nests the two RoPEs under rope_parameters.{full,sliding}_attention.
    const nested = raw.rope_parameters as { full_attention?: unknown; sliding_attention?: { rope_theta?: unknown } } | null | undefined;
    if (nested?.full_attention !== undefined) {
      const full = ropeScalingSchema.safeParse(nested.full_attention);
      if (!full.success) throw new ModelLoadError(file, 'rope_parameters.full_attention is not a RoPE parameter object');
      if (full.data.rope_theta !== undefined) out.ropeTheta = full.data.rope_theta;
      out.ropeScaling = ropeScalingFromHf(full.data, file, { maxPositions: trainedPositions, originalMaxPositions: c.original_max_position_embeddings });
    }
    const local = nested?.sliding_attention?.rope_theta;
    out.ropeLocalTheta = typeof local === 'number' ? local : c.rope_local_base_freq ?? 10000;
  }
  return out;
}

/**
 * Refuses, by name, what a config of a supported class can ask for that the shared forward pass
 * does not do: running it anyway would give output that silently differs from transformers'.
 */
function unsupportedFeatures(c: z.infer<typeof hfConfigSchema>, arch: Architecture, file: string): void {
  const refuse = (what: string) => { throw new ModelLoadError(file, `${what} is not supported`); };
  if (c.mlp_bias) refuse('mlp_bias');
  // attention_bias also puts a bias on o_proj (Llama, Qwen3), which the forward pass lacks.
  if (c.attention_bias && arch.hfQkvBias !== 'always') refuse(`attention_bias (biases on q, k, v and o_proj) for ${arch.name}`);
  const experts = c.num_local_experts || c.num_experts;
  if (experts && arch.experts === null) refuse(`mixture of experts (${experts} experts) for ${arch.name}`);
  // transformers turns only part of each head for Phi-3; other classes would fail or ignore it.
  const partial = c.partial_rotary_factor ?? c.rope_parameters?.partial_rotary_factor;
  if (partial != null && partial !== 1 && arch.name !== 'phi3') refuse(`partial_rotary_factor ${partial} for ${arch.name}`);
  if (c.no_rope_layers && arch.name !== 'smollm3') refuse(`no_rope_layers for ${arch.name}`);
  if (c.lm_head_bias) refuse('lm_head_bias');
  if (c.clip_qkv != null) refuse(`clip_qkv ${c.clip_qkv}`);
  // Gemma's windows, pattern and soft-caps are read by gemmaFromHf.
  if (arch.defaultSlidingWindowPattern > 0) return;
  if (c.use_sliding_window) refuse(`use_sliding_window (sliding-window attention, window ${c.sliding_window ?? 'unset'})`);
  if (c.layer_types?.some((t) => t !== 'full_attention')) refuse(`layer_types ${[...new Set(c.layer_types)].join(', ')} (only full_attention)`);
  if (c.attn_logit_softcapping != null) refuse('attn_logit_softcapping');
  if (c.final_logit_softcapping != null) refuse('final_logit_softcapping');
}

function hfArchitecture(json: unknown, file: string): Architecture {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelLoadError(file, 'config.json is not a JSON object');
  }
  const obj = json as Record<string, unknown>;
  const archs = Array.isArray(obj.architectures) ? obj.architectures.filter((a): a is string => typeof a === 'string') : [];
  const modelType = typeof obj.model_type === 'string' ? obj.model_type : undefined;
  // model_type decides when present: it is what transformers itself dispatches on.
  const found = modelType !== undefined ? architectureByHfName(modelType) : archs.map((a) => architectureByHfName(a)).find((a) => a);
  if (found && (archs.length === 0 || archs.some((a) => architectureByHfName(a) === found))) return found;
  const named = [archs.join(', '), modelType && `model_type ${modelType}`].filter(Boolean).join(', ') || 'none given';
  throw new ModelLoadError(file, `unsupported architecture (${named}); supported: ${SUPPORTED_HF_CLASSES}`);
}

/** SmolLM3's NoPE layers: where no_rope_layers says 0, else transformers' default (every interval-th). */
function smollm3NoRopeLayers(c: z.infer<typeof hfConfigSchema>, file: string): number[] {
  const n = c.num_hidden_layers;
  const interval = c.no_rope_layer_interval ?? 4;
  const uses = c.no_rope_layers ?? Array.from({ length: n }, (_, l) => ((l + 1) % interval !== 0 ? 1 : 0));
  if (uses.length !== n) throw new ModelLoadError(file, `no_rope_layers has ${uses.length} entries for ${n} layers`);
  return uses.flatMap((u, l) => (u === 0 ? [l] : []));
}

interface RopeContext {
  /** max_position_embeddings as trained (before any sliding-window cap). */
  maxPositions: number;
  /** The top-level original_max_position_embeddings (Phi-3), if any. */
  originalMaxPositions: number | undefined;
}

/** transformers' get_mscale (YaRN's attention factor for a context extended `factor` times). */
export function yarnMscale(factor: number): number {
  return factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1;
}

function ropeScalingFromHf(s: z.infer<typeof ropeScalingSchema> | null, file: string, ctx: RopeContext): RopeScaling | null {
  if (s === null) return null;
  const type = s.rope_type ?? s.type ?? 'default';
  if (type === 'default') return null;
  for (const key of ['mscale', 'mscale_all_dim', 'short_mscale', 'long_mscale'] as const) {
    if (s[key] !== undefined) throw new ModelLoadError(file, `rope_scaling ${key} is not supported`);
  }
  if (s.truncate === false) throw new ModelLoadError(file, 'rope_scaling truncate: false is not supported');
  if (type === 'longrope' || type === 'su') {
    const original = ctx.originalMaxPositions ?? s.original_max_position_embeddings;
    if (!s.short_factor || !s.long_factor || original === undefined) {
      throw new ModelLoadError(file, `rope_scaling ${type} needs short_factor, long_factor and original_max_position_embeddings`);
    }
    // transformers' _compute_longrope_parameters: the factor is the context's growth.
    const factor = ctx.maxPositions / original;
    const attentionFactor = s.attention_factor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
    return { type: 'longrope', shortFactor: s.short_factor, longFactor: s.long_factor, originalMaxPositionEmbeddings: original, attentionFactor };
  }
  if (type === 'yarn') {
    if (s.factor === undefined) throw new ModelLoadError(file, 'rope_scaling yarn needs a factor');
    // transformers' _compute_yarn_parameters: given an original context, the factor is the
    // context's growth (max_position_embeddings / original), whatever `factor` says. llama.cpp's
    // converter writes `factor` itself: the two agree when max_position_embeddings = factor ·
    // original (Qwen3's instructions leave it at 40960 with factor 4 over 32768: transformers 1.25).
    const original = s.original_max_position_embeddings;
    const factor = original !== undefined ? ctx.maxPositions / original : s.factor;
    return {
      type: 'yarn', factor, originalMaxPositionEmbeddings: original ?? ctx.maxPositions,
      betaFast: s.beta_fast ?? 32, betaSlow: s.beta_slow ?? 1, attentionFactor: s.attention_factor ?? yarnMscale(factor),
    };
  }
  if (type === 'dynamic') {
    if (s.factor === undefined) throw new ModelLoadError(file, 'rope_scaling dynamic needs a factor');
    return { type: 'dynamic', factor: s.factor, originalMaxPositionEmbeddings: s.original_max_position_embeddings ?? ctx.maxPositions };
  }
  if (type === 'linear') {
    if (s.factor === undefined) throw new ModelLoadError(file, 'rope_scaling linear needs a factor');
    return { type: 'linear', factor: s.factor };
  }
  if (type === 'llama3') {
    const { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings } = s;
    if (factor === undefined || low_freq_factor === undefined || high_freq_factor === undefined || original_max_position_embeddings === undefined) {
      throw new ModelLoadError(file, 'rope_scaling llama3 needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings');
    }
    return { type: 'llama3', factor, lowFreqFactor: low_freq_factor, highFreqFactor: high_freq_factor, originalMaxPositionEmbeddings: original_max_position_embeddings };
  }
  throw new ModelLoadError(file, `rope_scaling type ${type} is not supported; supported: llama3, linear, longrope, yarn, dynamic, default`);
}

/** Throws ModelLoadError unless the config describes a model the engine can run. */
export function validateConfig(config: ModelConfig, file: string): void {
  const ints: (keyof ModelConfig)[] = ['hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize', 'maxPositionEmbeddings'];
  for (const key of ints) {
    const v = config[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new ModelLoadError(file, `${key} must be a positive integer, got ${String(v)}`);
  }
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new ModelLoadError(file, `numHeads ${config.numHeads} is not a multiple of numKvHeads ${config.numKvHeads}`);
  }
  if (config.headDim % 2 !== 0) throw new ModelLoadError(file, `headDim ${config.headDim} must be even for RoPE`);
  if (!(config.rmsNormEps > 0 && config.rmsNormEps < 1)) throw new ModelLoadError(file, `rmsNormEps ${config.rmsNormEps} is out of range`);
  if (!(config.ropeTheta > 0 && Number.isFinite(config.ropeTheta))) throw new ModelLoadError(file, `ropeTheta ${config.ropeTheta} is out of range`);
  const rs = config.ropeScaling;
  if (rs && 'factor' in rs && !(rs.factor > 0)) throw new ModelLoadError(file, `rope scaling factor ${rs.factor} must be positive`);
  if (rs?.type === 'llama3' && !(rs.highFreqFactor > rs.lowFreqFactor)) {
    throw new ModelLoadError(file, 'rope scaling llama3 needs high_freq_factor > low_freq_factor');
  }
  const rotaryDim = config.rotaryDim ?? config.headDim;
  if (!(Number.isSafeInteger(rotaryDim) && rotaryDim > 0 && rotaryDim <= config.headDim && rotaryDim % 2 === 0)) {
    throw new ModelLoadError(file, `rotary dims ${rotaryDim} must be even and at most headDim ${config.headDim}`);
  }
  if (config.ropeFreqFactors && config.ropeFreqFactors.length !== rotaryDim / 2) {
    throw new ModelLoadError(file, `rope_freqs has ${config.ropeFreqFactors.length} values, expected ${rotaryDim / 2} (rotary dims / 2)`);
  }
  if (rs?.type === 'longrope') {
    for (const [name, f] of [['short_factor', rs.shortFactor], ['long_factor', rs.longFactor]] as const) {
      if (f.length !== rotaryDim / 2) throw new ModelLoadError(file, `rope_scaling ${name} has ${f.length} values, expected ${rotaryDim / 2} (rotary dims / 2)`);
    }
  }
  if (config.noRopeLayers?.some((l) => !Number.isSafeInteger(l) || l < 0 || l >= config.numLayers)) {
    throw new ModelLoadError(file, `no-RoPE layers ${config.noRopeLayers.join(', ')} are not all below ${config.numLayers}`);
  }
  const moe = config.moe;
  const family = architecture(config.architecture);
  if ((moe !== undefined) !== (family.experts !== null)) {
    throw new ModelLoadError(file, moe ? `${family.name} has no experts, but the config gives ${moe.numExperts}` : `${family.name} needs an expert count`);
  }
  if (moe) {
    for (const key of ['numExperts', 'numExpertsPerTok', 'expertIntermediateSize'] as const) {
      if (!Number.isSafeInteger(moe[key]) || moe[key] <= 0) throw new ModelLoadError(file, `${key} must be a positive integer, got ${moe[key]}`);
    }
    if (moe.numExpertsPerTok > moe.numExperts) {
      throw new ModelLoadError(file, `numExpertsPerTok ${moe.numExpertsPerTok} is more than numExperts ${moe.numExperts}`);
    }
  }
  const sw = config.slidingWindow;
  if (sw && !(Number.isSafeInteger(sw.size) && sw.size > 0 && Number.isSafeInteger(sw.pattern) && sw.pattern >= 0)) {
    throw new ModelLoadError(file, `sliding window ${sw.size} (pattern ${sw.pattern}) must be a positive integer (pattern a non-negative one)`);
  }
  for (const [key, v] of [['attnLogitSoftcap', config.attnLogitSoftcap], ['finalLogitSoftcap', config.finalLogitSoftcap],
    ['queryPreAttnScalar', config.queryPreAttnScalar], ['ropeLocalTheta', config.ropeLocalTheta]] as const) {
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new ModelLoadError(file, `${key} ${v} must be positive and finite`);
  }
  for (const id of [...(config.bosTokenId === null ? [] : [config.bosTokenId]), ...config.eosTokenIds]) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new ModelLoadError(file, `special token id ${id} is outside the vocabulary (size ${config.vocabSize})`);
    }
  }
}

/**
 * The divisors llama3 scaling applies to each RoPE frequency, computed as HF's
 * `_compute_llama3_parameters` and llama.cpp's converter (which stores them as `rope_freqs`) do.
 */
export function llama3RopeFactors(scaling: Extract<RopeScaling, { type: 'llama3' }>, headDim: number, ropeTheta: number): Float32Array {
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldCtx } = scaling;
  const lowFreqWavelen = oldCtx / lowFreqFactor;
  const highFreqWavelen = oldCtx / highFreqFactor;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < out.length; i++) {
    const freq = 1 / ropeTheta ** ((2 * i) / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) out[i] = 1;
    else if (wavelen > lowFreqWavelen) out[i] = factor;
    else {
      const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

/** The config.json transformers would write for this config (used when saving HF models). */
export function hfConfigJson(config: ModelConfig): Record<string, unknown> {
  if (config.ropeFreqFactors) throw new Error('a config with rope_freqs factors (from a GGUF) has no config.json equivalent');
  const arch = architecture(config.architecture);
  if (arch.opt) return optHfConfigJson(config);
  if (config.attentionBias !== (arch.hfQkvBias === 'always')) {
    throw new Error(`${arch.name} ${config.attentionBias ? 'with' : 'without'} q/k/v biases has no config.json equivalent`);
  }
  if (config.qkNorm !== arch.qkNorm) throw new Error(`${arch.name} ${config.qkNorm ? 'with' : 'without'} q/k norms has no config.json equivalent`);
  if ((config.normWeightOffset ?? 0) !== (arch.hfNormPlusOne ? 1 : 0)) {
    throw new Error(`${arch.name} norm weights with offset ${config.normWeightOffset ?? 0} have no config.json equivalent (GGUF norms are stored with their 1 added)`);
  }
  if (config.noRopeLayers?.length && config.architecture !== 'smollm3') throw new Error(`${arch.name} with no-RoPE layers has no config.json equivalent`);
  if (config.rotaryDim !== undefined && config.rotaryDim !== config.headDim && config.architecture !== 'phi3') {
    throw new Error(`${arch.name} with partial RoPE has no config.json equivalent`);
  }
  const rs = config.ropeScaling;
  // transformers reads YaRN's factor as max_position_embeddings / original (see ropeScalingFromHf).
  if (rs?.type === 'yarn' && Math.abs(rs.factor * rs.originalMaxPositionEmbeddings - config.maxPositionEmbeddings) > 1e-6 * config.maxPositionEmbeddings) {
    throw new Error(`yarn factor ${rs.factor} over ${rs.originalMaxPositionEmbeddings} positions with a context of ${config.maxPositionEmbeddings} has no config.json equivalent`);
  }
  const moe = config.moe;
  let experts: Record<string, unknown> = {};
  if (moe && arch.name === 'mixtral') {
    if (!moe.normTopkProb || moe.expertIntermediateSize !== config.intermediateSize) {
      throw new Error('mixtral without top-k renormalisation, or with experts narrower than intermediate_size, has no config.json equivalent');
    }
    experts = { num_local_experts: moe.numExperts, num_experts_per_tok: moe.numExpertsPerTok };
  } else if (moe) {
    experts = {
      num_experts: moe.numExperts, num_experts_per_tok: moe.numExpertsPerTok, moe_intermediate_size: moe.expertIntermediateSize,
      norm_topk_prob: moe.normTopkProb, decoder_sparse_step: 1, mlp_only_layers: [],
    };
  }
  return {
    architectures: [arch.hfClasses[0]],
    model_type: arch.hfModelTypes[0],
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: hfRopeScaling(rs),
    ...(rs?.type === 'longrope' ? { original_max_position_embeddings: rs.originalMaxPositionEmbeddings } : {}),
    ...(config.rotaryDim !== undefined && config.rotaryDim !== config.headDim ? { partial_rotary_factor: config.rotaryDim / config.headDim } : {}),
    ...(config.architecture === 'smollm3'
      ? { no_rope_layers: Array.from({ length: config.numLayers }, (_, l) => (config.noRopeLayers?.includes(l) ? 0 : 1)) }
      : {}),
    hidden_act: arch.ffnActivation === 'silu' ? 'silu' : 'gelu_pytorch_tanh',
    ...(arch.scaleEmbedding ? gemmaHfJson(config) : {}),
    tie_word_embeddings: config.tieWordEmbeddings,
    ...(arch.hfQkvBias !== 'always' ? { attention_bias: false } : {}),
    ...(config.architecture === 'llama' ? { mlp_bias: false } : {}),
    ...experts,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 0 ? null : config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
  };
}

/** The Gemma keys of hfConfigJson: every one written, so transformers' defaults never apply. */
function gemmaHfJson(config: ModelConfig): Record<string, unknown> {
  const sw = config.slidingWindow;
  if (config.architecture === 'gemma2' && config.ropeLocalTheta !== undefined) throw new Error('gemma2 with a local RoPE theta has no config.json equivalent');
  const layerTypes = Array.from({ length: config.numLayers }, (_, il) => (isSlidingLayer(config, il) ? 'sliding_attention' : 'full_attention'));
  return {
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: config.queryPreAttnScalar ?? config.headDim,
    sliding_window: sw ? sw.size : null,
    ...(config.architecture === 'gemma3' ? { sliding_window_pattern: sw ? sw.pattern : 1, rope_local_base_freq: config.ropeLocalTheta ?? config.ropeTheta } : {}),
    layer_types: layerTypes,
    attn_logit_softcapping: config.attnLogitSoftcap ?? null,
    final_logit_softcapping: config.finalLogitSoftcap ?? null,
  };
}

function hfRopeScaling(rs: RopeScaling | null): Record<string, unknown> | null {
  switch (rs?.type) {
    case undefined: return null;
    case 'linear': return { rope_type: 'linear', factor: rs.factor };
    case 'llama3': return {
      rope_type: 'llama3', factor: rs.factor, low_freq_factor: rs.lowFreqFactor,
      high_freq_factor: rs.highFreqFactor, original_max_position_embeddings: rs.originalMaxPositionEmbeddings,
    };
    // Phi-3 configs spell it `type`; attention_factor is explicit so no context cap can change it.
    case 'longrope': return { type: 'longrope', short_factor: rs.shortFactor, long_factor: rs.longFactor, attention_factor: rs.attentionFactor };
    case 'yarn': return {
      rope_type: 'yarn', factor: rs.factor, original_max_position_embeddings: rs.originalMaxPositionEmbeddings,
      beta_fast: rs.betaFast, beta_slow: rs.betaSlow, attention_factor: rs.attentionFactor,
    };
    case 'dynamic': return { rope_type: 'dynamic', factor: rs.factor, original_max_position_embeddings: rs.originalMaxPositionEmbeddings };
  }
}
