// Qwen3 (dense): Qwen2 without the q/k/v biases (unless attention_bias says so) and with an
// RMSNorm on every q and k head before RoPE (HF q_norm/k_norm, GGUF attn_q_norm/attn_k_norm,
// as llama.cpp's src/models/qwen3.cpp). Its head_dim is its own (128 for 4B, whose
// hidden/heads is 80), which config.json and GGUF both state.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const qwen3: Architecture = {
  name: 'qwen3',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Qwen3ForCausalLM'],
  hfModelTypes: ['qwen3'],
  ggufName: 'qwen3',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 32768,
  hfQkvBias: 'config',
  qkNorm: true,
};
