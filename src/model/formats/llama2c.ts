// Reads karpathy/llama2.c checkpoints: the legacy v0 export (a bare header of 7 int32, see
// ../shared/models/README.md §1a) and the v1 export ("ak42" magic, 256-byte header). Both are
// f32 arrays back to back; each becomes per-layer tensors under HF names, Q/K rows left in
// llama2.c's consecutive-pair RoPE order (ropeStyle 'interleaved').

import { validateConfig, type ModelConfig } from '../config.js';
import { ModelLoadError } from '../errors.js';
import { FileTensorStore, type TensorLocation } from './file-tensor-store.js';
import { ModelFile } from './model-file.js';
import type { TensorStore } from './tensor.js';

export const LLAMA2C_MAGIC = 0x616b3432; // "ak42" as export.py packs it ('I', little-endian)
const V0_HEADER = 28;
const V1_HEADER = 256;

export interface Llama2cModel {
  version: 0 | 1;
  config: ModelConfig;
  tensors: TensorStore;
}

interface Header {
  dim: number; hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number;
  shared: boolean;
}

/** A 7-int32 header that could be a v0 checkpoint's: used to tell one apart from random bytes. */
export function plausibleLlama2cHeader(ints: readonly number[]): boolean {
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = ints;
  const small = (v: number | undefined): v is number => v !== undefined && v > 0 && v < 1 << 20;
  return small(dim) && small(hidden) && small(layers) && small(heads) && small(kvHeads) && small(seqLen)
    && vocab !== undefined && vocab !== 0 && Math.abs(vocab) < 1 << 24 && dim % heads === 0 && heads % kvHeads === 0;
}

export function readLlama2c(path: string): Llama2cModel {
  const file = new ModelFile(path);
  try {
    return parse(file);
  } catch (err) {
    file.close();
    throw err;
  }
}

function parse(file: ModelFile): Llama2cModel {
  if (file.size < V0_HEADER) throw new ModelLoadError(file.path, `truncated: ${file.size} bytes is too short for a llama2.c header`);
  const head = file.readAt(0, Math.min(V1_HEADER, file.size), 'llama2.c header');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = view.getUint32(0, true) === LLAMA2C_MAGIC ? view.getInt32(4, true) : 0;
  if (version !== 0 && version !== 1) {
    throw new ModelLoadError(file.path, `llama2.c checkpoint version ${version} is not supported (only the f32 exports, versions 0 and 1)`);
  }
  const base = version === 1 ? 8 : 0;
  if (version === 1 && head.byteLength < V1_HEADER) throw new ModelLoadError(file.path, 'truncated: llama2.c v1 header is 256 bytes');
  const ints = Array.from({ length: 7 }, (_, i) => view.getInt32(base + 4 * i, true));
  if (!plausibleLlama2cHeader(ints)) throw new ModelLoadError(file.path, `not a llama2.c checkpoint: header [${ints.join(', ')}] is not a model shape`);
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = ints as [number, number, number, number, number, number, number];
  const header: Header = {
    dim, hidden, layers, heads, kvHeads, vocab: Math.abs(vocab), seqLen,
    // v0 flags a separate classifier by a negative vocab size; v1 has a byte for it.
    shared: version === 1 ? view.getUint8(base + 28) === 1 : vocab > 0,
  };

  const headDim = dim / heads;
  const config: ModelConfig = {
    architecture: 'llama',
    hiddenSize: dim,
    intermediateSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    vocabSize: header.vocab,
    maxPositionEmbeddings: seqLen,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    ropeStyle: 'interleaved',
    tieWordEmbeddings: header.shared,
    attentionBias: false,
    qkNorm: false,
    bosTokenId: 1,
    // run.c also stops when it samples BOS (1); callers replaying its behaviour must check that
    // themselves. EOS (2) is the model's real end token, as in the Llama 2 vocab.
    eosTokenIds: [2],
  };
  validateConfig(config, file.path);

  const layout = version === 1 ? v1Layout(header) : v0Layout(header);
  const locations: TensorLocation[] = [];
  let offset = version === 1 ? V1_HEADER : V0_HEADER;
  for (const array of layout) {
    const per = array.shape.reduce((a, b) => a * b, 1) * 4;
    if (array.name !== null) {
      for (let i = 0; i < array.count; i++) {
        const name = array.name.replace('{i}', String(i));
        locations.push({ info: { name, dtype: 'f32', shape: array.shape }, file, offset: offset + i * per, fileName: `${array.fileName}[${i}]` });
      }
    }
    offset += per * array.count;
  }
  if (offset !== file.size) {
    throw new ModelLoadError(file.path,
      `${offset > file.size ? 'truncated: ' : ''}llama2.c v${version} header implies ${offset} bytes but the file has ${file.size}`);
  }
  return { version, config, tensors: new FileTensorStore(file.path, locations, [file]) };
}

interface ArrayLayout {
  /** HF name with {i} for the layer, or null for arrays the model does not use. */
  name: string | null;
  fileName: string;
  count: number;
  shape: number[];
}

function arrays(h: Header) {
  const kvDim = (h.dim / h.heads) * h.kvHeads;
  const L = h.layers;
  const layer = (leaf: string, fileName: string, shape: number[]): ArrayLayout => ({ name: `model.layers.{i}.${leaf}`, fileName, count: L, shape });
  const single = (name: string, fileName: string, shape: number[]): ArrayLayout => ({ name, fileName, count: 1, shape });
  return {
    emb: single('model.embed_tokens.weight', 'token_embedding_table', [h.vocab, h.dim]),
    rmsAtt: layer('input_layernorm.weight', 'rms_att_weight', [h.dim]),
    wq: layer('self_attn.q_proj.weight', 'wq', [h.dim, h.dim]),
    wk: layer('self_attn.k_proj.weight', 'wk', [kvDim, h.dim]),
    wv: layer('self_attn.v_proj.weight', 'wv', [kvDim, h.dim]),
    wo: layer('self_attn.o_proj.weight', 'wo', [h.dim, h.dim]),
    rmsFfn: layer('post_attention_layernorm.weight', 'rms_ffn_weight', [h.dim]),
    w1: layer('mlp.gate_proj.weight', 'w1', [h.hidden, h.dim]),
    w2: layer('mlp.down_proj.weight', 'w2', [h.dim, h.hidden]),
    w3: layer('mlp.up_proj.weight', 'w3', [h.hidden, h.dim]),
    rmsFinal: single('model.norm.weight', 'rms_final_weight', [h.dim]),
    wcls: single('lm_head.weight', 'wcls', [h.vocab, h.dim]),
  };
}

function v0Layout(h: Header): ArrayLayout[] {
  const a = arrays(h);
  // Two RoPE tables from the original export; run.c skips them, and so do we.
  const freqCis: ArrayLayout = { name: null, fileName: 'freq_cis', count: 2, shape: [h.seqLen, h.dim / h.heads / 2] };
  return [a.emb, a.rmsAtt, a.wq, a.wk, a.wv, a.wo, a.rmsFfn, a.w1, a.w2, a.w3, a.rmsFinal, freqCis, ...(h.shared ? [] : [a.wcls])];
}

function v1Layout(h: Header): ArrayLayout[] {
  const a = arrays(h);
  return [a.rmsAtt, a.rmsFfn, a.rmsFinal, a.emb, a.wq, a.wk, a.wv, a.wo, a.w1, a.w2, a.w3, ...(h.shared ? [] : [a.wcls])];
}
