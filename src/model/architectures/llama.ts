// Llama 2/3, TinyLlama, SmolLM, Mistral: the family the others are described against.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const llama: Architecture = {
  name: 'llama',
  ...LLAMA_DEFAULTS,
  hfClasses: ['LlamaForCausalLM', 'MistralForCausalLM'],
  hfModelTypes: ['llama', 'mistral'],
  ggufName: 'llama',
  ggufRopeStyle: 'interleaved',
  defaultMaxPositions: 2048,
  hfQkvBias: 'never',
  qkNorm: false,
};
