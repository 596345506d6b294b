// Qwen3-MoE (Qwen3-30B-A3B, 235B-A22B): Qwen3's attention (q/k head norms, no biases) with every
// FFN replaced by a routed mixture of small SwiGLU experts (moe_intermediate_size each): softmax
// over the router's logits, the top num_experts_per_tok, renormalised when norm_topk_prob says so
// (llama.cpp's qwen3moe graph always renormalises; Qwen's released configs all ask for it).
// No shared expert (that is Qwen2-MoE). HF names the router mlp.gate and the experts
// mlp.experts.E.{gate,up,down}_proj; GGUF stacks them as ffn_{gate,up,down}_exps.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const qwen3moe: Architecture = {
  name: 'qwen3moe',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Qwen3MoeForCausalLM'],
  hfModelTypes: ['qwen3_moe'],
  ggufName: 'qwen3moe',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 32768,
  hfQkvBias: 'config',
  qkNorm: true,
  experts: {
    router: 'mlp.gate.weight',
    prefix: 'mlp.experts',
    leaves: { gate: 'gate_proj.weight', up: 'up_proj.weight', down: 'down_proj.weight' },
  },
};
