// Mixtral (8x7B, 8x22B): Mistral's attention with every FFN replaced by a routed mixture of
// SwiGLU experts of intermediate_size each: softmax over the router's logits, the top
// num_experts_per_tok, always renormalised to sum to one (transformers' MixtralSparseMoeBlock,
// llama.cpp's build_moe_ffn with norm_w). HF names the router block_sparse_moe.gate and the
// experts block_sparse_moe.experts.E.w1 (gate), w3 (up), w2 (down); llama.cpp writes the model as
// GGUF arch `llama` with llama.expert_count and stacked ffn_{gate,up,down}_exps.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const mixtral: Architecture = {
  name: 'mixtral',
  ...LLAMA_DEFAULTS,
  hfClasses: ['MixtralForCausalLM'],
  hfModelTypes: ['mixtral'],
  ggufName: 'llama',
  ggufRopeStyle: 'interleaved',
  // transformers' MixtralConfig default (4096 * 32).
  defaultMaxPositions: 131072,
  hfQkvBias: 'never',
  qkNorm: false,
  experts: {
    router: 'block_sparse_moe.gate.weight',
    prefix: 'block_sparse_moe.experts',
    leaves: { gate: 'w1.weight', up: 'w3.weight', down: 'w2.weight' },
  },
};
