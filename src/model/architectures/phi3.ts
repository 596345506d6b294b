// Phi-3, Phi-3.5-mini and Phi-4-mini: Llama with q|k|v and gate|up each stored as one tensor
// (HF qkv_proj and gate_up_proj, GGUF attn_qkv and a double-height ffn_up, gate rows first), a
// partial rotary (Phi-4-mini rotates 96 of 128 dims: partial_rotary_factor) and LongRoPE
// (rope_scaling longrope/su: per-frequency short and long divisors, an attention factor), as
// llama.cpp's src/models/phi3.cpp and conversion/phi.py.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const phi3: Architecture = {
  name: 'phi3',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Phi3ForCausalLM'],
  hfModelTypes: ['phi3'],
  ggufName: 'phi3',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 4096,
  hfQkvBias: 'never',
  qkNorm: false,
  fusedProjections: true,
  ggufLayerNames: [['ffn_up.weight', 'mlp.gate_up_proj.weight']],
};
