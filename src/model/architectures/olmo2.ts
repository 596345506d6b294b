// OLMo 2: norms after the attention and the FFN (applied to each block's output before the
// residual add; no input norms), and q/k RMSNorm over the whole q and k projections rather than
// per head, as llama.cpp's src/models/olmo2.cpp. HF's post_attention_layernorm is here the
// attention output's norm (GGUF post_attention_norm), not the FFN input's.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const olmo2: Architecture = {
  name: 'olmo2',
  ...LLAMA_DEFAULTS,
  hfClasses: ['Olmo2ForCausalLM'],
  hfModelTypes: ['olmo2'],
  ggufName: 'olmo2',
  ggufRopeStyle: 'neox',
  defaultMaxPositions: 2048,
  hfQkvBias: 'never',
  qkNorm: true,
  qkNormOver: 'projection',
  normPlacement: 'post',
  ggufLayerNames: [
    ['post_attention_norm.weight', 'post_attention_layernorm.weight'],
    ['post_ffw_norm.weight', 'post_feedforward_layernorm.weight'],
  ],
};
