// The model the tier benchmarks run: Qwen2.5-0.5B's shape (hidden 896, 14 query and 2 KV
// heads of 64, FFN 4864) with random bf16 weights and fewer layers, so a run takes minutes,
// not hours, on two cores. Restore and recompute both scale with the layer count, so their
// ratio does not depend on it. The vocabulary is the byte tokenizer's (259): only the one
// sampled row per request pays for the vocabulary, and no output text is read.
import * as path from 'node:path';
import { defaultKernels } from '../../src/kernels/index.js';
import { configFromHf, type ModelConfig } from '../../src/model/config.js';
import { MemoryTensorStore } from '../../src/model/formats/memory-tensor-store.js';
import type { LoadedModel } from '../../src/model/load.js';
import { randomTensors } from '../../src/model/random-model.js';
import { byteTokenizer } from '../../src/model/tokenizer/byte.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';
import * as fs from 'node:fs';

const CONFIG = path.join(import.meta.dirname, '../../../shared/models/configs/Qwen2.5-0.5B-Instruct.json');

export async function qwenShapedModel(numLayers: number): Promise<LoadedModel> {
  const hf = configFromHf(JSON.parse(fs.readFileSync(CONFIG, 'utf8')), CONFIG);
  const config: ModelConfig = { ...hf, numLayers, vocabSize: 259, maxPositionEmbeddings: 32768, bosTokenId: 1, eosTokenIds: [2], tieWordEmbeddings: true };
  const kernels = await defaultKernels();
  const store = new MemoryTensorStore('<qwen2.5-0.5b-shape>', randomTensors(config, { seed: 1, dtype: 'bf16' }));
  const weights = loadWeights(config, store, kernels, { format: 'bf16' });
  const id = `qwen2.5-0.5b-shape-${numLayers}l-random`;
  return { id, source: id, format: 'demo', config, transformer: new Transformer(config, weights, kernels), tokenizer: byteTokenizer(), chatTemplate: null, stopIds: [] };
}

/** Random prompt tokens of the byte vocabulary (ids 3..258). */
export function randomTokens(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % 256);
  });
}
