// Models with random weights of any config's shape, saved as an HF directory or a GGUF, for tests
// and benchmarks that need a real-sized model without downloading one. Values are seeded and
// depend only on (seed, tensor name), so the same call always gives the same bytes.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fromFloat32, toFloat32, type TensorDType } from '../kernels/dtype.js';
import { architecture } from './architectures/index.js';
import { hfConfigJson, type ModelConfig } from './config.js';
import { ggufMetadataFor, hfToGgufTensors } from './formats/gguf-convert.js';
import type { GgufMetadata, GgufValue } from './formats/gguf-types.js';
import { writeGguf } from './formats/gguf-writer.js';
import { writeSafetensors } from './formats/safetensors-writer.js';
import { elementCount, type RawTensor } from './formats/tensor.js';
import { expectedTensorShapes, hfToGgufName } from './tensor-names.js';

export interface RandomTensorOptions {
  seed: number;
  dtype: 'f32' | 'f16' | 'bf16';
  /**
   * Standard deviation of weights, and of norms around 1 (default 0.02). Reference fixtures
   * use ≈1/√hidden so that the layers, not the embedding, shape the logits.
   */
  std?: number;
  /**
   * Standard deviation of the token embedding (default: std). Fixtures of models that scale their
   * tied embedding by √hidden (Gemma) shrink it, or the current token's own row dominates the
   * final hidden state and greedy decoding repeats the last token.
   */
  embedStd?: number;
  /** Values generated so far of the total; called as the work goes (a real size takes minutes). */
  onProgress?: (done: number, total: number) => void;
}

// How many values between progress calls: about a second of the generator's work.
const PROGRESS_STEP = 1 << 24;

// The usual initializer_range: keeps activations of a random model in a sane range.
const WEIGHT_STD = 0.02;

/**
 * Every tensor the config implies, HF-named: weights ~ N(0, std²), norms ~ 1 + N(0, std²) as
 * applied (a Gemma config.json norm stores w of (1 + w): N(0, std²)).
 */
export function randomTensors(config: ModelConfig, { seed, dtype, std = WEIGHT_STD, embedStd = std, onProgress }: RandomTensorOptions): RawTensor[] {
  const out: RawTensor[] = [];
  const shapes = expectedTensorShapes(config);
  const total = [...shapes.values()].reduce((n, shape) => n + elementCount(shape), 0);
  let done = 0;
  onProgress?.(0, total);
  for (const [name, shape] of shapes) {
    const rng = normalRng(seed, name);
    const values = new Float32Array(elementCount(shape));
    const isNorm = name.endsWith('norm.weight') && (config.normWeightOffset ?? 0) === 0;
    const sd = name === 'model.embed_tokens.weight' ? embedStd : std;
    for (let start = 0; start < values.length; start += PROGRESS_STEP) {
      const end = Math.min(values.length, start + PROGRESS_STEP);
      for (let i = start; i < end; i++) values[i] = (isNorm ? 1 : 0) + sd * rng();
      done += end - start;
      onProgress?.(done, total);
    }
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
  // Under the family's own names where they differ (OPT's model.decoder.*), as transformers saves.
  const names = architecture(config.architecture).hfTensorNames;
  const named = names ? tensors.map((t) => ({ ...t, name: names.fromCanonical(t.name) })) : tensors;
  writeSafetensors(nodePath.join(dir, 'model.safetensors'), named, { format: 'pt' });
}

function torchDtype(tensors: readonly RawTensor[]): string {
  const big = tensors.find((t) => t.shape.length > 1) ?? tensors[0];
  return big?.dtype === 'bf16' ? 'bfloat16' : big?.dtype === 'f16' ? 'float16' : 'float32';
}

export interface SaveGgufOptions {
  /**
   * Store 2-D weights as this type (1-D norms and biases, and MoE routers, become f32, as
   * llama.cpp's converter writes them). A q8_0 weight whose rows are not whole 32-value blocks
   * stays in its given type, as llama.cpp falls back for such tensors. Omitted: every tensor is
   * written as given.
   */
  weightDtype?: TensorDType;
  /** tokenizer.ggml.* keys (and tokenizer.chat_template) to embed. */
  tokenizerKeys?: GgufMetadata;
  /** Tensors converted to weightDtype so far, of all of them. */
  onProgress?: (done: number, total: number) => void;
}

/** Writes an HF-named model as the GGUF llama.cpp's converter would produce. */
export function saveGgufModel(file: string, config: ModelConfig, tensors: readonly RawTensor[], options: SaveGgufOptions = {}): void {
  const { weightDtype, onProgress } = options;
  let converted = tensors;
  if (weightDtype !== undefined) {
    onProgress?.(0, tensors.length);
    converted = tensors.map((t, i) => {
      const c = convertTensor(t, weightDtype);
      onProgress?.(i + 1, tensors.length);
      return c;
    });
  }
  writeGguf(file, ggufMetadataFor(config, options.tokenizerKeys), hfToGgufTensors(config, converted));
}

function convertTensor(t: RawTensor, weightDtype: TensorDType): RawTensor {
  const router = hfToGgufName(t.name)?.endsWith('.ffn_gate_inp.weight') ?? false;
  const target = t.shape.length === 1 || router ? 'f32' : weightDtype;
  if (target === t.dtype || (target === 'q8_0' && (t.shape.at(-1)! % 32 !== 0))) return t;
  const values = toFloat32(t.dtype, t.data, elementCount(t.shape));
  return { ...t, dtype: target, data: fromFloat32(target, values) };
}

/**
 * A real byte-level BPE vocabulary (a Hugging Face vocab.json + merges.txt directory, GPT-2 style,
 * like ../shared/tokenizers/qwen2.5) fitted to a model's vocab size, so a random model carries a
 * tokenizer that both Pensieve and llama.cpp load. Ids past the source vocab become unused
 * `[PAD<id>]` tokens (as llama.cpp's converter writes them); a smaller model keeps the ids below
 * its size and the merges among them.
 */
export interface RandomModelVocab {
  /** The directory the vocab came from. */
  source: string;
  /** [vocabSize] token texts in id order. */
  tokens: string[];
  /** [vocabSize] GGUF token types (1 normal, 3 control, 4 user-defined, 5 unused). */
  types: number[];
  merges: string[];
  /** The source's chat template, when its tokenizer_config.json has one and the vocab was kept whole. */
  chatTemplate: string | null;
  /** Every source token kept: the source's files can be copied as they are. */
  whole: boolean;
}

const TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5;

export function fitVocab(dir: string, vocabSize: number): RandomModelVocab {
  const readJson = (name: string): Record<string, unknown> => {
    const file = nodePath.join(dir, name);
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  };
  const vocab = readJson('vocab.json') as Record<string, number>;
  const config = readJson('tokenizer_config.json');
  const decoder = (config.added_tokens_decoder ?? {}) as Record<string, { content: string; special?: boolean }>;
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types = new Array<number>(vocabSize).fill(TOKEN_UNUSED);
  let sourceCount = 0;
  const put = (id: number, text: string, type: number) => {
    sourceCount = Math.max(sourceCount, id + 1);
    if (id >= vocabSize) return;
    tokens[id] = text;
    types[id] = type;
  };
  for (const [text, id] of Object.entries(vocab)) put(id, text, TOKEN_NORMAL);
  // As llama.cpp's converter: special added tokens, and any that look like <|...|>, are control.
  for (const [id, t] of Object.entries(decoder)) {
    put(Number(id), t.content, t.special || /^<\|.*\|>$/.test(t.content) ? TOKEN_CONTROL : TOKEN_USER_DEFINED);
  }
  for (const [text, id] of Object.entries(readJson('added_tokens.json') as Record<string, number>)) {
    if (tokens[id] === undefined) put(id, text, TOKEN_CONTROL);
  }
  const whole = sourceCount <= vocabSize;
  const filled = Array.from(tokens, (t, id) => t ?? `[PAD${id}]`);
  const kept = new Set(filled.filter((_, id) => types[id] === TOKEN_NORMAL));
  const merges: string[] = [];
  for (const line of fs.readFileSync(nodePath.join(dir, 'merges.txt'), 'utf8').split(/\r?\n/)) {
    if (line === '' || line.startsWith('#version')) continue;
    const [left, right] = line.split(' ') as [string, string];
    if (whole || (kept.has(left) && kept.has(right) && kept.has(left + right))) merges.push(line);
  }
  const template = typeof config.chat_template === 'string' && whole ? config.chat_template : null;
  return { source: dir, tokens: filled, types, merges, chatTemplate: template, whole };
}

/** The tokenizer.ggml.* keys (and chat template) of a vocab, as llama.cpp's converter writes them. */
export function ggufTokenizerKeys(vocab: RandomModelVocab): GgufMetadata {
  const keys = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: vocab.tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: vocab.types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: vocab.merges }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ]);
  if (vocab.chatTemplate !== null) keys.set('tokenizer.chat_template', { type: 'string', value: vocab.chatTemplate });
  return keys;
}

/** Writes the vocab as a Hugging Face slow tokenizer beside a saved model: the source files when whole. */
export function saveHfTokenizer(dir: string, vocab: RandomModelVocab): void {
  fs.mkdirSync(dir, { recursive: true });
  if (vocab.whole) {
    for (const name of ['vocab.json', 'merges.txt', 'added_tokens.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      const src = nodePath.join(vocab.source, name);
      if (fs.existsSync(src)) fs.copyFileSync(src, nodePath.join(dir, name));
    }
    return;
  }
  const entries = vocab.tokens.flatMap((t, id) => (vocab.types[id] === TOKEN_NORMAL ? [[t, id] as const] : []));
  fs.writeFileSync(nodePath.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(entries)));
  fs.writeFileSync(nodePath.join(dir, 'merges.txt'), ['#version: 0.2', ...vocab.merges].join('\n') + '\n');
  fs.writeFileSync(nodePath.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'Qwen2Tokenizer', add_bos_token: false }, null, 2) + '\n');
}

/**
 * The tokenizer.ggml.* keys of a SentencePiece vocab read from a llama2.c tokenizer.bin (the
 * Llama 2 vocab in ../shared/tokenizers/llama2), written as llama.cpp's converter writes Gemma's:
 * model "llama", add_bos_token true, add_space_prefix false (Gemma's SentencePiece model has no
 * dummy prefix). We have no Gemma tokenizer file offline; this is the same format and rules.
 */
export function spmTokenizerKeys(tokenizerBin: string, vocabSize: number, opts: { addSpacePrefix: boolean }): GgufMetadata {
  const data = fs.readFileSync(tokenizerBin);
  const tokens: string[] = [], scores: number[] = [], types: number[] = [];
  let at = 4; // max_token_length
  for (let id = 0; id < vocabSize; id++) {
    scores.push(data.readFloatLE(at));
    const len = data.readInt32LE(at + 4);
    const text = data.toString('utf8', at + 8, at + 8 + len);
    at += 8 + len;
    // llama2.c's file spells BOS and EOS "\n<s>\n" and "\n</s>\n", and SentencePiece's ▁ as a space.
    tokens.push(id === 1 ? '<s>' : id === 2 ? '</s>' : text.replaceAll(' ', '\u2581'));
    // llama.cpp's converter: unknown, control (<s>, </s>), byte (<0xXX>), normal.
    types.push(id === 0 ? 2 : id <= 2 ? TOKEN_CONTROL : /^<0x[0-9A-F]{2}>$/.test(text) ? 6 : TOKEN_NORMAL);
  }
  return new Map<string, GgufValue>([
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: opts.addSpacePrefix }],
  ]);
}
