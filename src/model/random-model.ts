// Models with random weights of any config's shape, saved as an HF directory or a GGUF, for tests
// and benchmarks that need a real-sized model without downloading one. Values are seeded and
// depend only on (seed, tensor name), so the same call always gives the same bytes.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fromFloat32, toFloat32, type TensorDType } from '../kernels/dtype.js';
import { hfConfigJson, type ModelConfig } from './config.js';
import { ggufMetadataFor, hfToGgufTensors } from './formats/gguf-convert.js';
import type { GgufMetadata } from './formats/gguf-types.js';
import { writeGguf } from './formats/gguf-writer.js';
import { writeSafetensors } from './formats/safetensors-writer.js';
import { elementCount, type RawTensor } from './formats/tensor.js';
import { expectedTensorShapes } from './tensor-names.js';

export interface RandomTensorOptions {
  seed: number;
  dtype: 'f32' | 'f16' | 'bf16';
}

// The usual initializer_range: keeps activations of a random model in a sane range.
const WEIGHT_STD = 0.02;

/** Every tensor the config implies, HF-named: weights ~ N(0, 0.02²), norms ~ 1 + N(0, 0.02²). */
export function randomTensors(config: ModelConfig, { seed, dtype }: RandomTensorOptions): RawTensor[] {
  const out: RawTensor[] = [];
  for (const [name, shape] of expectedTensorShapes(config)) {
    const rng = normalRng(seed, name);
    const values = new Float32Array(elementCount(shape));
    const isNorm = name.endsWith('norm.weight');
    for (let i = 0; i < values.length; i++) values[i] = (isNorm ? 1 : 0) + WEIGHT_STD * rng();
    out.push({ name, dtype, shape, data: fromFloat32(dtype, values) });
  }
  return out;
}

/** A standard-normal generator (mulberry32 + Box-Muller) seeded by the seed and the tensor name. */
function normalRng(seed: number, name: string): () => number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  let state = h >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** Writes `dir`/config.json (transformers' keys) and `dir`/model.safetensors. */
export function saveHfModel(dir: string, config: ModelConfig, tensors: readonly RawTensor[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const json = { ...hfConfigJson(config), torch_dtype: torchDtype(tensors) };
  fs.writeFileSync(nodePath.join(dir, 'config.json'), JSON.stringify(json, null, 2) + '\n');
  writeSafetensors(nodePath.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

function torchDtype(tensors: readonly RawTensor[]): string {
  const big = tensors.find((t) => t.shape.length > 1) ?? tensors[0];
  return big?.dtype === 'bf16' ? 'bfloat16' : big?.dtype === 'f16' ? 'float16' : 'float32';
}

export interface SaveGgufOptions {
  /**
   * Store 2-D weights as this type (1-D norms and biases become f32, as llama.cpp does). A q8_0
   * weight whose rows are not whole 32-value blocks stays in its given type, as llama.cpp falls
   * back for such tensors. Omitted: every tensor is written as given.
   */
  weightDtype?: TensorDType;
  /** tokenizer.ggml.* keys (and tokenizer.chat_template) to embed. */
  tokenizerKeys?: GgufMetadata;
}

/** Writes an HF-named model as the GGUF llama.cpp's converter would produce. */
export function saveGgufModel(file: string, config: ModelConfig, tensors: readonly RawTensor[], options: SaveGgufOptions = {}): void {
  const { weightDtype } = options;
  const converted = weightDtype === undefined ? tensors : tensors.map((t) => convertTensor(t, weightDtype));
  writeGguf(file, ggufMetadataFor(config, options.tokenizerKeys), hfToGgufTensors(config, converted));
}

function convertTensor(t: RawTensor, weightDtype: TensorDType): RawTensor {
  const target = t.shape.length === 1 ? 'f32' : weightDtype;
  if (target === t.dtype || (target === 'q8_0' && (t.shape.at(-1)! % 32 !== 0))) return t;
  const values = toFloat32(t.dtype, t.data, elementCount(t.shape));
  return { ...t, dtype: target, data: fromFloat32(target, values) };
}
