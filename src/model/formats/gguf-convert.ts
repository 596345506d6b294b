// What llama.cpp's convert_hf_to_gguf.py would write for an HF model: GGUF tensor names, Q/K rows
// permuted to consecutive-pair RoPE for arch llama, rope_freqs for Llama 3 scaling, and the
// `{arch}.*` metadata keys. With writeGguf this makes files a real conversion would produce.

import { byteSize, fromFloat32 } from '../../kernels/dtype.js';
import { architecture } from '../architectures/index.js';
import { llama3RopeFactors, yarnMscale, type ModelConfig } from '../config.js';
import { SMOLLM3_NO_ROPE_STEP } from '../architectures/smollm3.js';
import { hfToGgufName, splitLayerName } from '../tensor-names.js';
import type { GgufMetadata, GgufValue } from './gguf-types.js';
import { elementCount, type RawTensor } from './tensor.js';

/** HF-named tensors → GGUF-named tensors in the layout llama.cpp expects for config.architecture. */
export function hfToGgufTensors(config: ModelConfig, tensors: readonly RawTensor[]): RawTensor[] {
  const out: RawTensor[] = [];
  // llama.cpp's converter permutes q/k rows for the families it rotates by consecutive pairs.
  const permute = architecture(config.architecture).ggufRopeStyle === 'interleaved';
  for (const t of tensors) {
    const name = hfToGgufName(t.name, config);
    if (name === null) throw new Error(`tensor ${t.name} has no GGUF name`);
    const leaf = splitLayerName(t.name)?.[1];
    const heads = leaf?.startsWith('self_attn.q_proj.') ? config.numHeads : leaf?.startsWith('self_attn.k_proj.') ? config.numKvHeads : 0;
    const data = permute && heads > 0 ? permuteForInterleavedRope(t.data, t.shape, t.dtype, heads) : t.data;
    out.push({ name, dtype: t.dtype, shape: [...t.shape], data });
  }
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
  const arch = config.architecture;
  if (architecture(arch).opt) throw new Error('OPT has no GGUF form: llama.cpp has no OPT architecture (save it as safetensors)');
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
  if (config.bosTokenId !== null) u32('tokenizer.ggml.bos_token_id', config.bosTokenId);
  const eosKeys = ['eos_token_id', 'eot_token_id', 'eom_token_id'];
  config.eosTokenIds.slice(0, eosKeys.length).forEach((id, i) => u32(`tokenizer.ggml.${eosKeys[i]}`, id));
  for (const [key, value] of tokenizerKeys ?? []) m.set(key, value);
  return m;
}
