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
  /**
   * q, k and v projections stacked by rows ([qDim + 2·kvDim][hidden]) and gate and up
   * ([2·intermediate][hidden]): one pass over each stack per step instead of three and two,
   * which is what decode (one weight stream per token) and small batches pay for.
   */
  wqkv: Matrix;
  bqkv: Float32Array | null;
  wo: Matrix;
  ffnNorm: Float32Array;
  wGateUp: Matrix;
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
  // Matrices with the same cols stacked by rows into one packed weight (see LayerWeights).
  const stacked = (names: string[]): Matrix => {
    const parts = names.map((name) => {
      const t = store.read(name);
      if (t.shape.length !== 2) throw new ModelLoadError(store.path, `tensor ${name} has shape [${t.shape}], expected a matrix`);
      tick();
      return t;
    });
    const cols = parts[0]!.shape[1]!;
    if (parts.some((t) => t.shape[1] !== cols)) {
      throw new ModelLoadError(store.path, `tensors ${names.join(', ')} have different column counts: ${parts.map((t) => t.shape[1]).join(', ')}`);
    }
    const rows = parts.reduce((n, t) => n + t.shape[0]!, 0);
    const dtype = parts[0]!.dtype;
    // Mixed dtypes (unusual) stack as f32 values; the packed format still follows the first.
    const same = parts.every((t) => t.dtype === dtype);
    const bytes = parts.map((t) => (same ? t.data : new Uint8Array(toFloat32(t.dtype, t.data, t.shape[0]! * cols).buffer)));
    const data = new Uint8Array(bytes.reduce((n, b) => n + b.byteLength, 0));
    let at = 0;
    for (const b of bytes) {
      data.set(b, at);
      at += b.byteLength;
    }
    return kernels.packMatrix({ dtype: same ? dtype : 'f32', rows, cols, data }, packedFormat(dtype, format, cols));
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
    const qkv = ['q', 'k', 'v'].map((x) => `${p}.self_attn.${x}_proj`);
    layers.push({
      attnNorm: vector(`${p}.input_layernorm.weight`),
      wqkv: stacked(qkv.map((x) => `${x}.weight`)),
      bqkv: config.attentionBias ? concat(qkv.map((x) => vector(`${x}.bias`))) : null,
      wo: matrix(`${p}.self_attn.o_proj.weight`),
      ffnNorm: vector(`${p}.post_attention_layernorm.weight`),
      wGateUp: stacked([`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`]),
      wDown: matrix(`${p}.mlp.down_proj.weight`),
    });
  }
  const norm = vector('model.norm.weight');
  const lmHead = hasLmHead ? matrix('lm_head.weight') : embed;
  return { embed, layers, norm, lmHead };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of parts) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}
