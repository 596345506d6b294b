// Gemma 2: GeGLU (tanh GELU), RMSNorm as (1 + w) in config.json, norms before and after both
// attention and FFN, embeddings scaled by √hidden, attention scale query_pre_attn_scalar^-½,
// attention-logit (50) and final-logit (30) soft-capping, and local (sliding-window, 4096) and
// global layers alternating, local first. As llama.cpp's src/models/gemma2.cpp and
// transformers' modeling_gemma2.py.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const gemma2: Architecture = {
  name: 'gemma2',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Gemma2ForCausalLM'],
  hfModelTypes: ['gemma2'],
  ggufName: 'gemma2',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 8192,
  hfQkvBias: 'never',
  qkNorm: false,
  defaultTiedEmbeddings: true,
  ffnActivation: 'gelu_tanh',
  sandwichNorms: true,
  scaleEmbedding: true,
  hfNormPlusOne: true,
  defaultSlidingWindowPattern: 2,
};
