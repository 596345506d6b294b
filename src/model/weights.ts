// A model's weights, packed for the kernels: matrices in the chosen matmul
// format, norms and biases as f32. Reads one tensor at a time from the store so
// peak memory stays near the packed size.
import { byteSize, toFloat32, type TensorDType } from '../kernels/dtype.js';
import type { Kernels, Matrix, PackedDType } from '../kernels/types.js';
import { architecture, expertLeaf } from './architectures/index.js';
import type { ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';
import type { RawTensor, TensorStore } from './formats/tensor.js';
import { stackMatrices, type MatrixStack } from './matrix-stack.js';

export interface LayerWeights {
  /** Pre-norms of the attention and FFN inputs; null where the family norms outputs instead (OLMo 2). */
  attnNorm: Float32Array | null;
  /**
   * q, k and v projections stacked by rows ([qDim + 2·kvDim][hidden]) and gate and up
   * ([2·intermediate][hidden]): one pass over each stack per step instead of three and two,
   * which is what decode (one weight stream per token) and small batches pay for. Parts whose
   * file types differ stay separate packed matrices (see MatrixStack).
   */
  wqkv: MatrixStack;
  bqkv: Float32Array | null;
  /** RMSNorm weights for q and k, per head [headDim] (Qwen3) or whole [qDim], [kvDim] (OLMo 2), or null. */
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  wo: Matrix;
  /** Norm of the attention output before the residual add (Gemma's sandwich, OLMo 2's post-norm), or null. */
  postAttnNorm: Float32Array | null;
  /**
   * The FFN's input norm (HF post_attention_layernorm, or Gemma's pre_feedforward_layernorm);
   * null where the family norms outputs instead (OLMo 2).
   */
  ffnNorm: Float32Array | null;
  ffn: FfnWeights;
  /** Norm of the FFN output before the residual add (Gemma, OLMo 2), or null. */
  postFfnNorm: Float32Array | null;
  /** OPT: LayerNorm biases of attnNorm and ffnNorm, and the bias of wo. */
  attnNormBias?: Float32Array;
  ffnNormBias?: Float32Array;
  bo?: Float32Array;
}

/** A layer's feed-forward block: one dense FFN, or routed experts (see feed-forward.ts). */
export type FfnWeights = DenseFfn | MoeFfn;

export interface DenseFfn {
  kind: 'dense';
  /**
   * gate and up stacked by rows ([2·intermediate][hidden]); OPT's ungated FFN: up (fc1) alone
   * ([intermediate][hidden]).
   */
  gateUp: MatrixStack;
  down: Matrix;
  /** OPT: biases of up (fc1) and down (fc2). */
  upBias?: Float32Array;
  downBias?: Float32Array;
}

export interface MoeFfn {
  kind: 'moe';
  /** [numExperts][hidden]: the router, f32 whatever the weight format. */
  router: Matrix;
  /** Each expert packed on its own, so a step reads only the experts its tokens chose. */
  experts: { gateUp: MatrixStack; down: Matrix }[];
  numExpertsPerTok: number;
  normTopkProb: boolean;
}

export interface ModelWeights {
  embed: Matrix;
  layers: LayerWeights[];
  norm: Float32Array;
  /** The classifier; the same Matrix as `embed` when the model ties them. */
  lmHead: Matrix;
  /** OPT: learned position embeddings (row = position + offset), f32, and the final norm's bias. */
  posEmbed?: Matrix;
  normBias?: Float32Array;
}

/**
 * 'auto' keeps each weight in its file's type (f16 as f16, Q4_K as Q4_K, ...), so resident
 * size stays near the file size; f16 widens to f32 only on a backend that cannot compute f16.
 * f32, bf16 and q8_0 repack every matrix, dequantizing a quantized one first.
 */
export type WeightFormat = 'auto' | 'f32' | 'bf16' | 'q8_0';

export interface LoadWeightsOptions {
  format?: WeightFormat;
  /** Called after each tensor with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

function packedFormat(src: TensorDType, format: WeightFormat, cols: number, kernels: Kernels, name: string, file: string): PackedDType {
  if (format === 'auto') {
    if (src === 'f16' && !kernels.packs('f16')) return 'f32';
    if (!kernels.packs(src)) {
      throw new ModelLoadError(file, `tensor ${name} has type ${src}, which the ${kernels.name} kernels cannot compute yet; `
        + 'load it with --weights q8_0, bf16 or f32 (dequantized at load) or PENSIEVE_KERNELS=reference');
    }
    return src;
  }
  // q8_0 blocks run along a row; a row that is not a whole number of blocks stays exact.
  if (format === 'q8_0' && cols % 32 !== 0) return 'f32';
  return format;
}

export function loadWeights(config: ModelConfig, store: TensorStore, kernels: Kernels, opts: LoadWeightsOptions = {}): ModelWeights {
  const format = opts.format ?? 'auto';
  // A tied model's classifier is its embedding even when the file also stores lm_head.weight
  // (transformers ties them after loading; tensor-check.ts warns that it is ignored).
  const hasLmHead = !config.tieWordEmbeddings;
  const arch = architecture(config.architecture);
  const sandwich = arch.sandwichNorms;
  const post = arch.normPlacement === 'post';
  // Per layer: q, k, v and o (q|k|v fused: 2), the input norms (none when post-placed), the
  // output norms (sandwich or post), the FFN (gate, up, down; gate|up fused or OPT's fc1: 2;
  // experts: router and 3 each), biases; OPT adds LayerNorm biases and o, fc1 and fc2 biases.
  const ffnTensors = config.moe ? 1 + 3 * config.moe.numExperts : arch.fusedProjections || arch.opt ? 2 : 3;
  const perLayer = (arch.fusedProjections ? 2 : 4) + (post ? 0 : 2) + (sandwich || post ? 2 : 0) + ffnTensors
    + (config.attentionBias ? 3 : 0) + (config.qkNorm ? 2 : 0) + (arch.opt ? 5 : 0);
  const total = 2 + config.numLayers * perLayer + (hasLmHead ? 1 : 0) + (arch.opt ? 2 : 0);
  let done = 0;
  const tick = () => opts.onProgress?.(++done, total);

  const read2d = (name: string): RawTensor => {
    const t = store.read(name);
    if (t.shape.length !== 2) throw new ModelLoadError(store.path, `tensor ${name} has shape [${t.shape}], expected a matrix`);
    tick();
    return t;
  };
  const formatOf = (t: RawTensor, name: string, as = format) => packedFormat(t.dtype, as, t.shape[1]!, kernels, name, store.path);
  const matrix = (name: string, as = format): Matrix => {
    const t = read2d(name);
    const [rows, cols] = t.shape as [number, number];
    return kernels.packMatrix({ dtype: t.dtype, rows, cols, data: t.data }, formatOf(t, name, as));
  };
  // Matrices with the same cols stacked by rows (see LayerWeights): each run of parts that
  // pack to the same format becomes one packed weight.
  const stacked = (names: string[]): MatrixStack => {
    const parts = names.map((name) => ({ name, t: read2d(name) }));
    const cols = parts[0]!.t.shape[1]!;
    if (parts.some(({ t }) => t.shape[1] !== cols)) {
      throw new ModelLoadError(store.path, `tensors ${names.join(', ')} have different column counts: ${parts.map(({ t }) => t.shape[1]).join(', ')}`);
    }
    const runs: { dst: PackedDType; tensors: RawTensor[] }[] = [];
    for (const { name, t } of parts) {
      const dst = formatOf(t, name);
      const last = runs.at(-1);
      if (last && last.dst === dst) last.tensors.push(t);
      else runs.push({ dst, tensors: [t] });
    }
    return {
      parts: runs.map(({ dst, tensors }) => ({ w: kernels.packMatrix(concatRows(tensors, cols), dst), outputs: tensors.length })),
    };
  };
  const vector = (name: string): Float32Array => {
    const t = store.read(name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const v = toFloat32(t.dtype, t.data, count);
    tick();
    return v;
  };
  // Gemma's config.json norms are w of x·(1 + w): the 1 is added in f32, as transformers does.
  const offset = config.normWeightOffset ?? 0;
  const norm = (name: string): Float32Array => {
    const v = vector(name);
    if (offset !== 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! + offset;
    return v;
  };

  // Phi-3 stores each stack as one tensor already (gate rows before up rows).
  const fused = (name: string, outputs: number): MatrixStack => ({ parts: [{ w: matrix(name), outputs }] });
  const experts = arch.experts;
  const ffn = (p: string): FfnWeights => {
    if (arch.opt) {
      return {
        kind: 'dense', gateUp: fused(`${p}.mlp.up_proj.weight`, 1), down: matrix(`${p}.mlp.down_proj.weight`),
        upBias: vector(`${p}.mlp.up_proj.bias`), downBias: vector(`${p}.mlp.down_proj.bias`),
      };
    }
    if (!config.moe || !experts) {
      const gateUp = arch.fusedProjections ? fused(`${p}.mlp.gate_up_proj.weight`, 2)
        : stacked([`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`]);
      return { kind: 'dense', gateUp, down: matrix(`${p}.mlp.down_proj.weight`) };
    }
    // The router decides which experts run: a small matrix whose rounding could flip a choice,
    // so it runs in f32 whatever the format asked (llama.cpp's converter and quantizer keep
    // ffn_gate_inp f32 too); f32 also keeps the activations unrounded for it.
    const router = matrix(`${p}.${experts.router}`, 'f32');
    const leaf = (e: number, proj: 'gate' | 'up' | 'down') => `${p}.${expertLeaf(experts, e, proj)}`;
    return {
      kind: 'moe',
      router,
      experts: Array.from({ length: config.moe.numExperts }, (_, e) => ({
        gateUp: stacked([leaf(e, 'gate'), leaf(e, 'up')]),
        down: matrix(leaf(e, 'down')),
      })),
      numExpertsPerTok: config.moe.numExpertsPerTok,
      normTopkProb: config.moe.normTopkProb,
    };
  };

  const embed = matrix('model.embed_tokens.weight');
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    const qkv = ['q', 'k', 'v'].map((x) => `${p}.self_attn.${x}_proj`);
    layers.push({
      attnNorm: post ? null : norm(`${p}.input_layernorm.weight`),
      wqkv: arch.fusedProjections ? fused(`${p}.self_attn.qkv_proj.weight`, 3) : stacked(qkv.map((x) => `${x}.weight`)),
      bqkv: config.attentionBias ? concat(qkv.map((x) => vector(`${x}.bias`))) : null,
      qNorm: config.qkNorm ? norm(`${p}.self_attn.q_norm.weight`) : null,
      kNorm: config.qkNorm ? norm(`${p}.self_attn.k_norm.weight`) : null,
      wo: matrix(`${p}.self_attn.o_proj.weight`),
      postAttnNorm: sandwich || post ? norm(`${p}.post_attention_layernorm.weight`) : null,
      ffnNorm: post ? null : norm(`${p}.${sandwich ? 'pre_feedforward_layernorm' : 'post_attention_layernorm'}.weight`),
      ffn: ffn(p),
      postFfnNorm: sandwich || post ? norm(`${p}.post_feedforward_layernorm.weight`) : null,
      ...(arch.opt ? {
        attnNormBias: vector(`${p}.input_layernorm.bias`), ffnNormBias: vector(`${p}.post_attention_layernorm.bias`),
        bo: vector(`${p}.self_attn.o_proj.bias`),
      } : {}),
    });
  }
  const finalNorm = norm('model.norm.weight');
  const lmHead = hasLmHead ? matrix('lm_head.weight') : embed;
  if (!arch.opt) return { embed, layers, norm: finalNorm, lmHead };
  // Position rows are only ever gathered (embedding), so f32 keeps them exact whatever the format.
  const pos = read2d('model.embed_positions.weight');
  const posEmbed = kernels.packMatrix({ dtype: pos.dtype, rows: pos.shape[0]!, cols: pos.shape[1]!, data: pos.data }, 'f32');
  return { embed, layers, norm: finalNorm, lmHead, posEmbed, normBias: vector('model.norm.bias') };
}

/**
 * Tensors of one width stacked by rows as one raw matrix: their bytes as they are when the types
 * agree, else their f32 values (they pack to one format, e.g. --weights q8_0 over Q4_K and Q6_K).
 */
function concatRows(tensors: RawTensor[], cols: number): { dtype: TensorDType; rows: number; cols: number; data: Uint8Array } {
  const rows = tensors.reduce((n, t) => n + t.shape[0]!, 0);
  const dtype = tensors[0]!.dtype;
  if (tensors.length === 1) return { dtype, rows, cols, data: tensors[0]!.data };
  const same = tensors.every((t) => t.dtype === dtype);
  const bytes = tensors.map((t) => (same ? t.data : new Uint8Array(toFloat32(t.dtype, t.data, t.shape[0]! * cols).buffer)));
  const data = new Uint8Array(bytes.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of bytes) {
    data.set(b, at);
    at += b.byteLength;
  }
  return { dtype: same ? dtype : 'f32', rows, cols, data };
}

/** Every packed matrix of a model, each once (a tied classifier is the embedding). */
export function weightMatrices(w: ModelWeights): Matrix[] {
  const all = [w.embed, ...(w.posEmbed ? [w.posEmbed] : []), ...w.layers.flatMap((l) => [...stackMatrices(l.wqkv), l.wo, ...ffnMatrices(l.ffn)]), w.lmHead];
  return [...new Set(all)];
}

/** The packed matrices of a feed-forward block: a dense FFN's, or the router and every expert's. */
export function ffnMatrices(ffn: FfnWeights): Matrix[] {
  if (ffn.kind === 'dense') return [...stackMatrices(ffn.gateUp), ffn.down];
  return [ffn.router, ...ffn.experts.flatMap((x) => [...stackMatrices(x.gateUp), x.down])];
}

/**
 * Bytes the model's matrices take in their packed formats (byteSize of each: a Q4_K matrix
 * 144 bytes a 256-value block, bf16 2 a value), plus its f32 norms and biases: what a loaded
 * model keeps resident, to compare with the file's size.
 */
export function packedWeightBytes(w: ModelWeights): number {
  const matrices = weightMatrices(w).reduce((n, m) => n + byteSize(m.dtype, m.rows * m.cols), 0);
  const vectors = [w.norm, w.normBias ?? null, ...w.layers.flatMap((l) => [
    l.attnNorm, l.ffnNorm, l.bqkv, l.qNorm, l.kNorm, l.postAttnNorm, l.postFfnNorm, l.attnNormBias, l.ffnNormBias, l.bo,
    ...(l.ffn.kind === 'dense' ? [l.ffn.upBias, l.ffn.downBias] : []),
  ].map((v) => v ?? null))].filter((v) => v !== null);
  return matrices + vectors.reduce((n, v) => n + v.byteLength, 0);
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
