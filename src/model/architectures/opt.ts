// OPT (facebook/opt-125m ... 66b), the Pensieve paper's family: learned absolute positions
// (table rows offset by 2), LayerNorm with bias, a ReLU FFN (fc1, fc2), biases on every
// projection, norms before attention and FFN (do_layer_norm_before; opt-350m's post-norm and
// 512-wide embedding projection are refused), classifier tied to the embedding. llama.cpp has no
// OPT architecture, so there is no GGUF form; its checkpoints' names (model.decoder.*) are mapped
// onto the Llama names every other family uses, as GGUF names are.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

const LAYER_NAMES: [opt: string, canonical: string][] = [
  ['self_attn.q_proj', 'self_attn.q_proj'],
  ['self_attn.k_proj', 'self_attn.k_proj'],
  ['self_attn.v_proj', 'self_attn.v_proj'],
  ['self_attn.out_proj', 'self_attn.o_proj'],
  ['self_attn_layer_norm', 'input_layernorm'],
  ['final_layer_norm', 'post_attention_layernorm'],
  ['fc1', 'mlp.up_proj'],
  ['fc2', 'mlp.down_proj'],
];
const GLOBAL_NAMES: [opt: string, canonical: string][] = [
  ['model.decoder.embed_tokens.weight', 'model.embed_tokens.weight'],
  ['model.decoder.embed_positions.weight', 'model.embed_positions.weight'],
  ['model.decoder.final_layer_norm.weight', 'model.norm.weight'],
  ['model.decoder.final_layer_norm.bias', 'model.norm.bias'],
];

/** An OPT checkpoint name (with or without OPTForCausalLM's `model.` prefix) as the canonical one. */
function toCanonical(name: string): string {
  const full = name.startsWith('decoder.') ? `model.${name}` : name;
  const global = GLOBAL_NAMES.find(([o]) => o === full);
  if (global) return global[1];
  const m = /^model\.decoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(full);
  const leaf = m && LAYER_NAMES.find(([o]) => o === m[2]);
  return leaf ? `model.layers.${m[1]}.${leaf[1]}.${m[3]}` : name;
}

/** The name OPTForCausalLM saves a canonical tensor under. */
function fromCanonical(name: string): string {
  const global = GLOBAL_NAMES.find(([, c]) => c === name);
  if (global) return global[0];
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  const leaf = m && LAYER_NAMES.find(([, c]) => c === m[2]);
  return leaf ? `model.decoder.layers.${m[1]}.${leaf[0]}.${m[3]}` : name;
}

export const opt: Architecture = {
  name: 'opt',
  ...LLAMA_DEFAULTS,
  hfClasses: ['OPTForCausalLM'],
  hfModelTypes: ['opt'],
  // No llama.cpp architecture: this name is never found in a GGUF, and saving one is refused.
  ggufName: '(none: opt)',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 2048,
  hfQkvBias: 'always',
  qkNorm: false,
  defaultTiedEmbeddings: true,
  ffnActivation: 'relu',
  opt: { positionOffset: 2 },
  hfTensorNames: { toCanonical, fromCanonical },
};
