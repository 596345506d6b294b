// Which tensors a model of a given config has, under the Hugging Face names every TensorStore
// exposes, and how GGUF's names (token_embd, blk.N.attn_q, ...) map onto them.

import { architecture, architectureByGgufName } from './architectures/index.js';
import type { ModelConfig } from './config.js';

/** HF name → expected HF-order shape, for every tensor the config implies. */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: d, intermediateSize: ff, vocabSize: v, numHeads, numKvHeads, headDim } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const arch = architecture(config.architecture);
  const post = arch.normPlacement === 'post';
  const qkNormWhole = arch.qkNormOver === 'projection';
  const out = new Map<string, number[]>();
  out.set('model.embed_tokens.weight', [v, d]);
  if (arch.opt) out.set('model.embed_positions.weight', [config.maxPositionEmbeddings + arch.opt.positionOffset, d]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    if (!post) out.set(`${p}input_layernorm.weight`, [d]);
    if (arch.opt) out.set(`${p}input_layernorm.bias`, [d]);
    if (arch.fusedProjections) {
      out.set(`${p}self_attn.qkv_proj.weight`, [q + 2 * kv, d]);
    } else {
      out.set(`${p}self_attn.q_proj.weight`, [q, d]);
      out.set(`${p}self_attn.k_proj.weight`, [kv, d]);
      out.set(`${p}self_attn.v_proj.weight`, [kv, d]);
    }
    if (config.attentionBias) {
      out.set(`${p}self_attn.q_proj.bias`, [q]);
      out.set(`${p}self_attn.k_proj.bias`, [kv]);
      out.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    if (config.qkNorm) {
      out.set(`${p}self_attn.q_norm.weight`, [qkNormWhole ? q : headDim]);
      out.set(`${p}self_attn.k_norm.weight`, [qkNormWhole ? kv : headDim]);
    }
    out.set(`${p}self_attn.o_proj.weight`, [d, q]);
    if (arch.opt) out.set(`${p}self_attn.o_proj.bias`, [d]);
    out.set(`${p}post_attention_layernorm.weight`, [d]);
    if (arch.opt) out.set(`${p}post_attention_layernorm.bias`, [d]);
    if (post) out.set(`${p}post_feedforward_layernorm.weight`, [d]);
    if (arch.opt) {
      // ReLU FFN: fc1 (here up_proj) and fc2 (down_proj), both with biases; no gate.
      out.set(`${p}mlp.up_proj.weight`, [ff, d]);
      out.set(`${p}mlp.up_proj.bias`, [ff]);
      out.set(`${p}mlp.down_proj.bias`, [d]);
    } else if (arch.fusedProjections) {
      out.set(`${p}mlp.gate_up_proj.weight`, [2 * ff, d]);
    } else {
      out.set(`${p}mlp.gate_proj.weight`, [ff, d]);
      out.set(`${p}mlp.up_proj.weight`, [ff, d]);
    }
    out.set(`${p}mlp.down_proj.weight`, [d, ff]);
  }
  out.set('model.norm.weight', [d]);
  if (arch.opt) out.set('model.norm.bias', [d]);
  if (!config.tieWordEmbeddings) out.set('lm_head.weight', [v, d]);
  return out;
}

const GLOBAL_NAMES: [gguf: string, hf: string][] = [
  ['token_embd.weight', 'model.embed_tokens.weight'],
  ['output_norm.weight', 'model.norm.weight'],
  ['output.weight', 'lm_head.weight'],
];

const LAYER_NAMES: [gguf: string, hf: string][] = [
  ['attn_norm.weight', 'input_layernorm.weight'],
  ['ffn_norm.weight', 'post_attention_layernorm.weight'],
  ['attn_q.weight', 'self_attn.q_proj.weight'],
  ['attn_k.weight', 'self_attn.k_proj.weight'],
  ['attn_v.weight', 'self_attn.v_proj.weight'],
  ['attn_q.bias', 'self_attn.q_proj.bias'],
  ['attn_k.bias', 'self_attn.k_proj.bias'],
  ['attn_v.bias', 'self_attn.v_proj.bias'],
  ['attn_q_norm.weight', 'self_attn.q_norm.weight'],
  ['attn_k_norm.weight', 'self_attn.k_norm.weight'],
  ['attn_output.weight', 'self_attn.o_proj.weight'],
  ['attn_qkv.weight', 'self_attn.qkv_proj.weight'],
  ['ffn_gate.weight', 'mlp.gate_proj.weight'],
  ['ffn_up.weight', 'mlp.up_proj.weight'],
  ['ffn_down.weight', 'mlp.down_proj.weight'],
];

const GGUF_TO_HF_GLOBAL = new Map(GLOBAL_NAMES);
const HF_TO_GGUF_GLOBAL = new Map(GLOBAL_NAMES.map(([g, h]) => [h, g]));
const GGUF_TO_HF_LAYER = new Map(LAYER_NAMES);
const HF_TO_GGUF_LAYER = new Map(LAYER_NAMES.map(([g, h]) => [h, g]));

/**
 * The HF name of a GGUF tensor, or null for tensors HF has no name for (e.g. rope_freqs.weight).
 * `ggufArch` (general.architecture) picks the family's own names where they differ from Llama's.
 */
export function ggufToHfName(name: string, ggufArch?: string): string | null {
  const global = GGUF_TO_HF_GLOBAL.get(name);
  if (global) return global;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const own = ggufArch === undefined ? undefined : architectureByGgufName(ggufArch)?.ggufLayerNames?.find(([g]) => g === m[2]);
  const rest = own ? own[1] : GGUF_TO_HF_LAYER.get(m[2]!);
  return rest ? `model.layers.${m[1]}.${rest}` : null;
}

/** The GGUF name of an HF tensor (of `config`'s family when given), or null for names this engine's architectures do not use. */
export function hfToGgufName(name: string, config?: Pick<ModelConfig, 'architecture'>): string | null {
  const global = HF_TO_GGUF_GLOBAL.get(name);
  if (global) return global;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const own = config === undefined ? undefined : architecture(config.architecture).ggufLayerNames?.find(([, h]) => h === m[2]);
  const rest = own ? own[0] : HF_TO_GGUF_LAYER.get(m[2]!);
  return rest ? `blk.${m[1]}.${rest}` : null;
}

/** Layer index and HF leaf name of a per-layer tensor, e.g. model.layers.3.self_attn.q_proj.weight → [3, 'self_attn.q_proj.weight']. */
export function splitLayerName(name: string): [layer: number, leaf: string] | null {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  return m ? [Number(m[1]), m[2]!] : null;
}
