// The built-in demo model: random weights in a tiny Llama shape with a
// byte-level tokenizer (like vLLM's --load-format dummy), so `pensieve` runs on
// a fresh machine with no model file. Its output is noise by construction.
import type { ModelConfig } from './config.js';
import { MemoryTensorStore } from './formats/memory-tensor-store.js';
import type { TensorStore } from './formats/tensor.js';
import { randomTensors } from './random-model.js';
import { byteTokenizer } from './tokenizer/byte.js';
import type { Tokenizer } from './tokenizer/types.js';

export const DEMO_MODEL_ID = 'pensieve-demo';

export const DEMO_CONFIG: ModelConfig = {
  architecture: 'llama',
  hiddenSize: 256,
  intermediateSize: 688,
  numLayers: 4,
  numHeads: 8,
  numKvHeads: 4,
  headDim: 32,
  vocabSize: 259,
  maxPositionEmbeddings: 4096,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  ropeStyle: 'neox',
  tieWordEmbeddings: true,
  attentionBias: false,
  qkNorm: false,
  bosTokenId: 1,
  eosTokenIds: [2],
};

export function demoModel(): { config: ModelConfig; tensors: TensorStore; tokenizer: Tokenizer } {
  const tensors = new MemoryTensorStore(`<${DEMO_MODEL_ID}>`, randomTensors(DEMO_CONFIG, { seed: 0, dtype: 'f32' }));
  return { config: DEMO_CONFIG, tensors, tokenizer: byteTokenizer() };
}
