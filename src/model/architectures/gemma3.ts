// Gemma 3 (text; Gemma3ForCausalLM, model_type gemma3_text): Gemma 2 without soft-capping
// (unless final_logit_softcapping says so), with Qwen3-style q/k norms (also (1 + w)), and five
// local layers to one global: local layers rotate with rope_local_base_freq (10000) unscaled,
// global ones with rope_theta (1e6) and its rope_scaling. As llama.cpp's src/models/gemma3.cpp.
// The multimodal Gemma3ForConditionalGeneration (model_type gemma3) is not this class.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const gemma3: Architecture = {
  name: 'gemma3',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Gemma3ForCausalLM'],
  hfModelTypes: ['gemma3_text'],
  ggufName: 'gemma3',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 131072,
  hfQkvBias: 'never',
  qkNorm: true,
  defaultTiedEmbeddings: true,
  ffnActivation: 'gelu_tanh',
  sandwichNorms: true,
  scaleEmbedding: true,
  hfNormPlusOne: true,
  defaultSlidingWindowPattern: 6,
};
