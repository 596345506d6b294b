// Qwen2 and Qwen2.5: Llama with biases on the q, k and v projections.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const qwen2: Architecture = {
  name: 'qwen2',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Qwen2ForCausalLM'],
  hfModelTypes: ['qwen2'],
  ggufName: 'qwen2',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 32768,
  hfQkvBias: 'always',
  qkNorm: false,
};
