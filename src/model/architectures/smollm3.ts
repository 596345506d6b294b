// SmolLM3: Llama whose every 4th layer has no rotary embedding (NoPE; HF no_rope_layers, 0 for
// those layers). llama.cpp fixes the step at 4 (hparams.n_no_rope_layer_step) and rotates
// consecutive pairs, its converter permuting q/k rows as for Llama.
import { LLAMA_DEFAULTS, type Architecture } from './types.js';

export const smollm3: Architecture = {
  name: 'smollm3',
  ...LLAMA_DEFAULTS,
  hfClasses: ['SmolLM3ForCausalLM'],
  hfModelTypes: ['smollm3'],
  ggufName: 'smollm3',
  ggufRopeStyle: 'interleaved',
  defaultMaxPositions: 32768,
  hfQkvBias: 'never',
  qkNorm: false,
  defaultTiedEmbeddings: true,
};

/** llama.cpp's n_no_rope_layer_step for smollm3: layer l has no RoPE when (l + 1) % 4 == 0. */
export const SMOLLM3_NO_ROPE_STEP = 4;
