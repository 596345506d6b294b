// Llama 2/3, TinyLlama, SmolLM, Mistral: the family the others are described against.
import type { Architecture } from './types.js';

export const llama: Architecture = {
  name: 'llama',
  hfClasses: ['LlamaForCausalLM', 'MistralForCausalLM'],
  hfModelTypes: ['llama', 'mistral'],
  ggufName: 'llama',
  ggufRopeStyle: 'interleaved',
  defaultMaxPositions: 2048,
  hfQkvBias: 'never',
  defaultTiedEmbeddings: false,
  ffnActivation: 'silu',
  sandwichNorms: false,
  scaleEmbedding: false,
  hfNormPlusOne: false,
  defaultSlidingWindowPattern: 0,
  qkNorm: false,
  experts: null,
};
