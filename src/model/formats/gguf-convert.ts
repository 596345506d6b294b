// What llama.cpp's convert_hf_to_gguf.py would write for an HF model: GGUF tensor names, Q/K rows
// permuted to consecutive-pair RoPE for arch llama, rope_freqs for Llama 3 scaling, and the
// `{arch}.*` metadata keys. With writeGguf this makes files a real conversion would produce.

import { byteSize, fromFloat32, toFloat32 } from '../../kernels/dtype.js';
import { architecture } from '../architectures/index.js';
import { SMOLLM3_NO_ROPE_STEP } from '../architectures/smollm3.js';
import { llama3RopeFactors, yarnMscale, type ModelConfig } from '../config.js';
import { expertSlot, hfToGgufName, splitLayerName } from '../tensor-names.js';
import type { GgufMetadata, GgufValue } from './gguf-types.js';
import { elementCount, type RawTensor } from './tensor.js';

/**
 * HF-named tensors → GGUF-named tensors in the layout llama.cpp expects for config.architecture.
 * A layer's experts become one 3-D tensor per projection, [numExperts][rows][cols] in HF order,
 * at the place of the layer's first expert tensor (as the converter's torch.stack).
 */
export function hfToGgufTensors(config: ModelConfig, tensors: readonly RawTensor[]): RawTensor[] {
  const arch = architecture(config.architecture);
  const out: RawTensor[] = [];
  // llama.cpp's converter permutes q/k rows for the families it rotates by consecutive pairs.
  const interleaved = arch.ggufRopeStyle === 'interleaved';
  // GGUF name → the position its stack takes in `out`, and the experts gathered so far.
  const stacks = new Map<string, { at: number; experts: RawTensor[] }>();
  for (const t of tensors) {
    const slot = expertSlot(t.name);
    if (slot) {
      let stack = stacks.get(slot.gguf);
      if (!stack) {
        stack = { at: out.length, experts: [] };
        stacks.set(slot.gguf, stack);
        out.push(t); // replaced by the stack below
      }
      stack.experts[slot.expert] = t;
      continue;
    }
    const name = hfToGgufName(t.name, arch.ggufName);
    if (name === null) throw new Error(`tensor ${t.name} has no GGUF name`);
    const leaf = splitLayerName(t.name)?.[1];
    const heads = leaf?.startsWith('self_attn.q_proj.') ? config.numHeads : leaf?.startsWith('self_attn.k_proj.') ? config.numKvHeads : 0;
    let data = interleaved && heads > 0 ? permuteForInterleavedRope(t.data, t.shape, t.dtype, heads) : t.data;
    // Gemma's converter adds the 1 of its (1 + w) RMSNorm to every norm weight, in the tensor's type.
    if (config.normWeightOffset && name.endsWith('norm.weight')) {
      const values = toFloat32(t.dtype, t.data, elementCount(t.shape));
      for (let i = 0; i < values.length; i++) values[i] = values[i]! + config.normWeightOffset;
      data = fromFloat32(t.dtype, values);
    }
    out.push({ name, dtype: t.dtype, shape: [...t.shape], data });
  }
  for (const [name, { at, experts }] of stacks) out[at] = stackExperts(name, experts);
  const factors = config.ropeFreqFactors
    ?? (config.ropeScaling?.type === 'llama3' ? llama3RopeFactors(config.ropeScaling, config.headDim, config.ropeTheta) : null);
  if (factors) {
    out.push({ name: 'rope_freqs.weight', dtype: 'f32', shape: [factors.length], data: fromFloat32('f32', factors) });
  }
  // LongRoPE's two sets, once for all layers (llama.cpp duplicates them per layer at load).
  const rs = config.ropeScaling;
  if (rs?.type === 'longrope') {
    for (const [name, f] of [['rope_factors_long.weight', rs.longFactor], ['rope_factors_short.weight', rs.shortFactor]] as const) {
      out.push({ name, dtype: 'f32', shape: [f.length], data: fromFloat32('f32', Float32Array.from(f)) });
    }
  }
  return out;
}

/** Expert tensors 0..E-1 of one projection as the 3-D GGUF tensor `name`. */
function stackExperts(name: string, experts: readonly (RawTensor | undefined)[]): RawTensor {
  const first = experts[0];
  const missing = Array.from(experts, (t, e) => (t ? -1 : e)).filter((e) => e >= 0);
  if (!first || missing.length > 0) throw new Error(`${name}: expert ${missing[0] ?? 0} is missing`);
  const odd = experts.find((t) => t!.dtype !== first.dtype || t!.shape.join() !== first.shape.join());
  if (odd) throw new Error(`${name}: ${odd.name} differs from ${first.name} in type or shape`);
  const data = new Uint8Array(experts.length * first.data.byteLength);
  experts.forEach((t, e) => data.set(t!.data, e * first.data.byteLength));
  return { name, dtype: first.dtype, shape: [experts.length, ...first.shape], data };
}

/**
 * Reorders the rows of a q/k projection (weight [heads*headDim, in] or bias [heads*headDim]) from
 * HF's rotate-half layout to consecutive pairs, as convert_hf_to_gguf.py's LlamaModel.permute:
 * `w.reshape(n_head, 2, head_dim/2, ...).swapaxes(1, 2).reshape(w.shape)`.
 * GGUF row h*headDim + 2j + s is HF row h*headDim + s*headDim/2 + j.
 */
export function permuteForInterleavedRope(data: Uint8Array, shape: readonly number[], dtype: RawTensor['dtype'], heads: number): Uint8Array {
  return moveRows(data, shape, dtype, heads, (half, j, s) => [s * half + j, 2 * j + s]);
}

/** The inverse of permuteForInterleavedRope: consecutive pairs back to HF's rotate-half rows. */
export function unpermuteFromInterleavedRope(data: Uint8Array, shape: readonly number[], dtype: RawTensor['dtype'], heads: number): Uint8Array {
  return moveRows(data, shape, dtype, heads, (half, j, s) => [2 * j + s, s * half + j]);
}

/** Copies each head's row `from` to row `to`, for every pair index j < headDim/2 and side s. */
function moveRows(
  data: Uint8Array, shape: readonly number[], dtype: RawTensor['dtype'], heads: number,
  map: (half: number, j: number, s: number) => [from: number, to: number],
): Uint8Array {
  const rows = shape[0]!;
  const headDim = rows / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new Error(`cannot split ${rows} rows into ${heads} heads of even size`);
  const rowBytes = byteSize(dtype, elementCount(shape.slice(1)));
  const half = headDim / 2;
  const out = new Uint8Array(data.byteLength);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const [from, to] = map(half, j, s);
        const src = (h * headDim + from) * rowBytes;
        out.set(data.subarray(src, src + rowBytes), (h * headDim + to) * rowBytes);
      }
    }
  }
  return out;
}

/**
 * Metadata llama.cpp reads for this config, plus `tokenizerKeys` (tokenizer.ggml.*) when given.
 * eosTokenIds beyond the first become eot/eom ids, which llama.cpp also treats as end of turn.
 */
export function ggufMetadataFor(config: ModelConfig, tokenizerKeys?: GgufMetadata): Map<string, GgufValue> {
  if (architecture(config.architecture).opt) throw new Error('OPT has no GGUF form: llama.cpp has no OPT architecture (save it as safetensors)');
  const arch = architecture(config.architecture).ggufName;
  const m = new Map<string, GgufValue>();
  const u32 = (key: string, value: number): void => { m.set(key, { type: 'u32', value }); };
  const f32 = (key: string, value: number): void => { m.set(key, { type: 'f32', value }); };
  m.set('general.architecture', { type: 'string', value: arch });
  // llama.cpp sets Phi-3 SentencePiece token attributes (</s>, ...) when the name says phi3,
  // which a BPE vocabulary lacks; Phi-4-mini's own GGUFs are named "Phi 4 Mini ...".
  m.set('general.name', { type: 'string', value: arch === 'phi3' ? 'phi-4 shape' : arch });
  u32(`${arch}.context_length`, config.maxPositionEmbeddings);
  u32(`${arch}.embedding_length`, config.hiddenSize);
  u32(`${arch}.feed_forward_length`, config.intermediateSize);
  u32(`${arch}.block_count`, config.numLayers);
  u32(`${arch}.attention.head_count`, config.numHeads);
  u32(`${arch}.attention.head_count_kv`, config.numKvHeads);
  if (config.headDim * config.numHeads !== config.hiddenSize) {
    u32(`${arch}.attention.key_length`, config.headDim);
    u32(`${arch}.attention.value_length`, config.headDim);
  }
  u32(`${arch}.rope.dimension_count`, config.rotaryDim ?? config.headDim);
  f32(`${arch}.rope.freq_base`, config.ropeTheta);
  f32(`${arch}.attention.layer_norm_rms_epsilon`, config.rmsNormEps);
  u32(`${arch}.vocab_size`, config.vocabSize);
  const moe = config.moe;
  if (moe) {
    // llama.cpp's llama and qwen3moe graphs always renormalise the top-k weights, and llama
    // sizes its experts by feed_forward_length.
    if (!moe.normTopkProb) throw new Error(`${config.architecture} without norm_topk_prob has no GGUF equivalent (llama.cpp always renormalises)`);
    if (arch === 'llama' && moe.expertIntermediateSize !== config.intermediateSize) {
      throw new Error(`GGUF llama experts are feed_forward_length wide, not ${moe.expertIntermediateSize}`);
    }
    u32(`${arch}.expert_count`, moe.numExperts);
    u32(`${arch}.expert_used_count`, moe.numExpertsPerTok);
    if (arch !== 'llama') u32(`${arch}.expert_feed_forward_length`, moe.expertIntermediateSize);
  }
  // llama3 scaling travels as the rope_freqs tensor (see hfToGgufTensors), as llama.cpp does.
  const rs = config.ropeScaling;
  if (rs?.type === 'linear') {
    m.set(`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' });
    f32(`${arch}.rope.scaling.factor`, rs.factor);
  } else if (rs?.type === 'longrope') {
    // As conversion/phi.py: the factors travel as tensors, the attention factor as a key.
    u32(`${arch}.rope.scaling.original_context_length`, rs.originalMaxPositionEmbeddings);
    f32(`${arch}.rope.scaling.attn_factor`, rs.attentionFactor);
  } else if (rs?.type === 'yarn') {
    m.set(`${arch}.rope.scaling.type`, { type: 'string', value: 'yarn' });
    f32(`${arch}.rope.scaling.factor`, rs.factor);
    u32(`${arch}.rope.scaling.original_context_length`, rs.originalMaxPositionEmbeddings);
    if (rs.betaFast !== 32) f32(`${arch}.rope.scaling.yarn_beta_fast`, rs.betaFast);
    if (rs.betaSlow !== 1) f32(`${arch}.rope.scaling.yarn_beta_slow`, rs.betaSlow);
    // llama.cpp multiplies its own get_mscale(factor) by this key.
    const extra = rs.attentionFactor / yarnMscale(rs.factor);
    if (Math.abs(extra - 1) > 1e-7) f32(`${arch}.rope.scaling.attn_factor`, extra);
  } else if (rs?.type === 'dynamic') {
    throw new Error('dynamic NTK rope scaling has no GGUF equivalent (llama.cpp does not implement it)');
  }
  if (arch === 'phi3') u32(`${arch}.attention.sliding_window`, 0);
  const noRope = config.noRopeLayers ?? [];
  const llamaCppNoRope = arch === 'smollm3' ? Array.from({ length: config.numLayers }, (_, l) => l).filter((l) => (l + 1) % SMOLLM3_NO_ROPE_STEP === 0) : [];
  if (noRope.join() !== llamaCppNoRope.join()) {
    throw new Error(`no-RoPE layers ${noRope.join(', ') || 'none'} have no GGUF equivalent for ${arch} (llama.cpp: ${llamaCppNoRope.join(', ') || 'none'})`);
  }
  if (arch === 'gemma2' || arch === 'gemma3') gemmaMetadata(config, u32, f32);
  if (config.bosTokenId !== null) u32('tokenizer.ggml.bos_token_id', config.bosTokenId);
  const eosKeys = ['eos_token_id', 'eot_token_id', 'eom_token_id'];
  config.eosTokenIds.slice(0, eosKeys.length).forEach((id, i) => u32(`tokenizer.ggml.${eosKeys[i]}`, id));
  for (const [key, value] of tokenizerKeys ?? []) m.set(key, value);
  return m;
}

/** Gemma's keys, as llama.cpp's Gemma2Model / Gemma3Model converters write them. */
function gemmaMetadata(config: ModelConfig, u32: (key: string, v: number) => void, f32: (key: string, v: number) => void): void {
  const arch = config.architecture;
  const sw = config.slidingWindow;
  const defaultPattern = arch === 'gemma2' ? 2 : 6;
  if (arch === 'gemma2') {
    // llama.cpp's Gemma 2 always has windows and the attention soft-cap; only their sizes vary.
    if (!sw || config.attnLogitSoftcap === undefined || config.finalLogitSoftcap === undefined) {
      throw new Error('gemma2 without a sliding window or soft-caps has no GGUF equivalent');
    }
    f32(`${arch}.attn_logit_softcapping`, config.attnLogitSoftcap);
    f32(`${arch}.final_logit_softcapping`, config.finalLogitSoftcap);
    if (config.ropeLocalTheta !== undefined) f32(`${arch}.rope.freq_base_swa`, config.ropeLocalTheta);
  } else {
    if (config.attnLogitSoftcap !== undefined) throw new Error('gemma3 with attention soft-capping has no GGUF equivalent');
    if (config.finalLogitSoftcap !== undefined) f32(`${arch}.final_logit_softcapping`, config.finalLogitSoftcap);
    if (sw) f32(`${arch}.rope.freq_base_swa`, config.ropeLocalTheta ?? 10000);
  }
  if (sw) {
    u32(`${arch}.attention.sliding_window`, sw.size);
    if (sw.pattern !== defaultPattern) u32(`${arch}.attention.sliding_window_pattern`, sw.pattern);
  }
  // llama.cpp derives the scale from the layer count (see gemmaFromGguf): a file cannot say otherwise.
  const is27b = config.numLayers === (arch === 'gemma2' ? 46 : 62);
  const scalar = config.queryPreAttnScalar ?? config.headDim;
  if (scalar !== (is27b ? config.hiddenSize / config.numHeads : config.headDim)) {
    throw new Error(`${arch} with query_pre_attn_scalar ${scalar} and ${config.numLayers} layers has no GGUF equivalent (llama.cpp would scale by another value)`);
  }
}
