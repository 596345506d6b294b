// A model's weights, packed for the kernels: matrices in the chosen matmul
// format, norms and biases as f32. Reads one tensor at a time from the store so
// peak memory stays near the packed size.
import { toFloat32, type TensorDType } from '../kernels/dtype.js';
import type { Kernels, Matrix, PackedDType } from '../kernels/types.js';
import type { ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';
import type { TensorStore } from './formats/tensor.js';

export interface LayerWeights {
  attnNorm: Float32Array;
  wq: Matrix;
  wk: Matrix;
  wv: Matrix;
  wo: Matrix;
  bq: Float32Array | null;
  bk: Float32Array | null;
  bv: Float32Array | null;
  ffnNorm: Float32Array;
  wGate: Matrix;
  wUp: Matrix;
  wDown: Matrix;
}

export interface ModelWeights {
  embed: Matrix;
  layers: LayerWeights[];
  norm: Float32Array;
  /** The classifier; the same Matrix as `embed` when the model ties them. */
  lmHead: Matrix;
}

/**
 * 'auto' keeps each weight's precision without widening memory needlessly:
 * f32 and f16 pack as f32 (exact), bf16 as bf16, q8_0 as q8_0.
 */
export type WeightFormat = PackedDType | 'auto';

export interface LoadWeightsOptions {
  format?: WeightFormat;
  /** Called after each tensor with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

function packedFormat(src: TensorDType, format: WeightFormat, cols: number): PackedDType {
  if (format === 'auto') return src === 'bf16' ? 'bf16' : src === 'q8_0' ? 'q8_0' : 'f32';
  // q8_0 blocks run along a row; a row that is not a whole number of blocks stays exact.
  if (format === 'q8_0' && cols % 32 !== 0) return 'f32';
  return format;
}

export function loadWeights(config: ModelConfig, store: TensorStore, kernels: Kernels, opts: LoadWeightsOptions = {}): ModelWeights {
  const format = opts.format ?? 'auto';
  const hasLmHead = store.info('lm_head.weight') !== undefined;
  const total = 2 + config.numLayers * (config.attentionBias ? 12 : 9) + (hasLmHead ? 1 : 0);
  let done = 0;
  const tick = () => opts.onProgress?.(++done, total);

  const matrix = (name: string): Matrix => {
    const t = store.read(name);
    if (t.shape.length !== 2) throw new ModelLoadError(store.path, `tensor ${name} has shape [${t.shape}], expected a matrix`);
    const [rows, cols] = t.shape as [number, number];
    const m = kernels.packMatrix({ dtype: t.dtype, rows, cols, data: t.data }, packedFormat(t.dtype, format, cols));
    tick();
    return m;
  };
  const vector = (name: string): Float32Array => {
    const t = store.read(name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const v = toFloat32(t.dtype, t.data, count);
    tick();
    return v;
  };

  const embed = matrix('model.embed_tokens.weight');
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    layers.push({
      attnNorm: vector(`${p}.input_layernorm.weight`),
      wq: matrix(`${p}.self_attn.q_proj.weight`),
      wk: matrix(`${p}.self_attn.k_proj.weight`),
      wv: matrix(`${p}.self_attn.v_proj.weight`),
      wo: matrix(`${p}.self_attn.o_proj.weight`),
      bq: config.attentionBias ? vector(`${p}.self_attn.q_proj.bias`) : null,
      bk: config.attentionBias ? vector(`${p}.self_attn.k_proj.bias`) : null,
      bv: config.attentionBias ? vector(`${p}.self_attn.v_proj.bias`) : null,
      ffnNorm: vector(`${p}.post_attention_layernorm.weight`),
      wGate: matrix(`${p}.mlp.gate_proj.weight`),
      wUp: matrix(`${p}.mlp.up_proj.weight`),
      wDown: matrix(`${p}.mlp.down_proj.weight`),
    });
  }
  const norm = vector('model.norm.weight');
  const lmHead = hasLmHead ? matrix('lm_head.weight') : embed;
  return { embed, layers, norm, lmHead };
}
