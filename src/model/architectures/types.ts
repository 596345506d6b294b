// What one decoder family is, as far as loading and the shared forward pass (transformer.ts)
// care: the names it goes by in config.json and GGUF, and the few ways it departs from Llama.
// Each family has its own module; index.ts is the registry the loaders look names up in.
import type { RopeStyle } from '../../kernels/types.js';

export type ArchitectureName = 'llama' | 'qwen2' | 'qwen3' | 'phi3' | 'olmo2' | 'smollm3' | 'opt';

export interface Architecture {
  name: ArchitectureName;
  /** config.json `architectures` entries; the first is the one written when saving. */
  hfClasses: readonly string[];
  /** config.json `model_type` values (what transformers dispatches on). */
  hfModelTypes: readonly string[];
  /** GGUF `general.architecture`: the key prefix of its metadata too. */
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
