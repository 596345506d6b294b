// What one decoder family is, as far as loading and the shared forward pass (transformer.ts)
// care: the names it goes by in config.json and GGUF, and the few ways it departs from Llama.
// Each family has its own module; index.ts is the registry the loaders look names up in.
import type { RopeStyle } from '../../kernels/types.js';

export type ArchitectureName =
  | 'llama'
  | 'qwen2'
  | 'qwen3'
  | 'qwen3moe'
  | 'mixtral'
  | 'gemma2'
  | 'gemma3'
  | 'phi3'
  | 'olmo2'
  | 'smollm3'
  | 'opt';

/** The three matrices of an expert's SwiGLU FFN. */
export type ExpertProjection = 'gate' | 'up' | 'down';

/**
 * How a mixture-of-experts family names its router and experts in a Hugging Face checkpoint,
 * as leaves under `model.layers.N.` (one 2-D tensor per expert; GGUF stacks them 3-D, see
 * tensor-names.ts).
 */
export interface ExpertNames {
  /** The router (`gate`): [numExperts][hidden]. */
  router: string;
  /** Expert e's projection p is `${prefix}.${e}.${leaves[p]}`. */
  prefix: string;
  leaves: Readonly<Record<ExpertProjection, string>>;
}

export interface Architecture {
  name: ArchitectureName;
  /** config.json `architectures` entries; the first is the one written when saving. */
  hfClasses: readonly string[];
  /** config.json `model_type` values (what transformers dispatches on). */
  hfModelTypes: readonly string[];
  /**
   * GGUF `general.architecture`: the key prefix of its metadata too. Two families may share one
   * (llama.cpp writes Mixtral as `llama` with an expert count); `experts` tells them apart.
   */
  ggufName: string;
  /**
   * How llama.cpp rotates this GGUF arch: consecutive pairs for llama (its converter permutes
   * q/k rows to match), first half with second half for the others (stored as in HF).
   */
  ggufRopeStyle: RopeStyle;
  /** max_position_embeddings when config.json omits it (transformers' default for the class). */
  defaultMaxPositions: number;
  /**
   * q/k/v projection biases in a config.json model: 'always' (Qwen2), 'never' (Llama: its
   * attention_bias would also put one on o_proj), or 'config' (attention_bias decides). A GGUF
   * says by carrying the tensors, as llama.cpp reads it.
   */
  hfQkvBias: 'always' | 'never' | 'config';
  /** RMSNorm of each q and k head (weights of headDim) before RoPE: Qwen3's q_norm/k_norm. */
  qkNorm: boolean;
  /** A routed mixture of experts in place of every layer's FFN (see moe.ts), or null for dense. */
  experts: ExpertNames | null;
  /** tie_word_embeddings when config.json omits it (transformers' default for the class). */
  defaultTiedEmbeddings: boolean;
  /**
   * The FFN's activation: SwiGLU, Gemma's GeGLU with tanh-approximated GELU, or OPT's ungated
   * ReLU (fc1, fc2; see feed-forward.ts).
   */
  ffnActivation: 'silu' | 'gelu_tanh' | 'relu';
  /**
   * Gemma's "sandwich" norms: the attention and FFN outputs are normed again before they join
   * the residual (HF post_attention_layernorm / post_feedforward_layernorm, GGUF
   * post_attention_norm / post_ffw_norm), and the FFN's input norm is pre_feedforward_layernorm.
   */
  sandwichNorms: boolean;
  /** The token embedding is scaled by √hidden (Gemma). */
  scaleEmbedding: boolean;
  /**
   * config.json stores RMSNorm weights as w, applied as (1 + w) (Gemma's RMSNorm); GGUF stores
   * 1 + w (llama.cpp's converter adds the 1).
   */
  hfNormPlusOne: boolean;
  /**
   * Sliding-window layers by default: layer il is local when il % n < n - 1 (llama.cpp's
   * set_swa_pattern; transformers' layer_types): 2 alternates (Gemma 2), 6 is five local then
   * one global (Gemma 3). 0: every layer is global.
   */
  defaultSlidingWindowPattern: number;
  /**
   * What q_norm/k_norm normalize when qkNorm is set: each head (Qwen3, weights [headDim]) or the
   * whole q and k projections (OLMo 2, weights [qDim] and [kvDim]). Default 'head'.
   */
  qkNormOver?: 'head' | 'projection';
  /**
   * q|k|v and gate|up stored as one tensor each (Phi-3: qkv_proj, gate_up_proj; GGUF attn_qkv
   * and an ffn_up of 2·intermediate rows, gate first). Default false.
   */
  fusedProjections?: boolean;
  /**
   * Where the block norms sit: 'pre' (Llama: before attention and FFN) or 'post' (OLMo 2: on the
   * attention and FFN outputs, before each residual add; no input norms). Default 'pre'.
   */
  normPlacement?: 'pre' | 'post';
  /**
   * Layer tensors whose GGUF name differs from the Llama mapping for this family, as
   * [gguf leaf, HF leaf] (e.g. OLMo 2's post_attention_layernorm is attn_post_norm, not ffn_norm).
   */
  ggufLayerNames?: readonly (readonly [gguf: string, hf: string])[];
  /**
   * OPT's decoder (opt.ts): learned absolute positions (row = position + positionOffset) instead
   * of RoPE, LayerNorm with bias instead of RMSNorm, ReLU FFN (up_proj = fc1, no gate), biases on
   * o_proj, up and down. Absent for the RMSNorm/RoPE/SwiGLU families.
   */
  opt?: { positionOffset: number };
  /** A family whose checkpoints name tensors otherwise: their names ↔ the Llama names used here. */
  hfTensorNames?: { toCanonical(name: string): string; fromCanonical(name: string): string };
}

/**
 * Llama's values of the ways a family can depart from it (tied embeddings aside, which several
 * families default to): a family module spreads these and states only where it differs.
 */
export const LLAMA_DEFAULTS = {
  defaultTiedEmbeddings: false,
  ffnActivation: 'silu',
  sandwichNorms: false,
  scaleEmbedding: false,
  hfNormPlusOne: false,
  defaultSlidingWindowPattern: 0,
  experts: null,
} as const satisfies Partial<Architecture>;
