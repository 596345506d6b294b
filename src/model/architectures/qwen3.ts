// Qwen3 (dense): Qwen2 without the q/k/v biases (unless attention_bias says so) and with an
// RMSNorm on every q and k head before RoPE (HF q_norm/k_norm, GGUF attn_q_norm/attn_k_norm,
// as llama.cpp's src/models/qwen3.cpp). Its head_dim is its own (128 for 4B, whose
// hidden/heads is 80), which config.json and GGUF both state.
import type { Architecture } from './types.js';

export const qwen3: Architecture = {
  name: 'qwen3',
  hfClasses: ['Qwen3ForCausalLM'],
  hfModelTypes: ['qwen3'],
  ggufName: 'qwen3',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 32768,
  hfQkvBias: 'config',
  defaultTiedEmbeddings: false,
  ffnActivation: 'silu',
  sandwichNorms: false,
  scaleEmbedding: false,
  hfNormPlusOne: false,
  defaultSlidingWindowPattern: 0,
  qkNorm: true,
  experts: null,
};
