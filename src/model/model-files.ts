// Opens whatever model the user points at — a GGUF file, an HF directory (config.json +
// safetensors, sharded or not), or a llama2.c checkpoint — and hands back one ModelFiles whose
// config and tensors have been checked against each other, so later code can trust both.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { architecture } from './architectures/index.js';
import { configFromHf, type ModelConfig } from './config.js';
import { asModelLoadError, ModelLoadError } from './errors.js';
import { GGUF_MAGIC, readGguf } from './formats/gguf.js';
import { configFromGguf } from './formats/gguf-config.js';
import type { GgufValue } from './formats/gguf-types.js';
import { LLAMA2C_MAGIC, plausibleLlama2cHeader, readLlama2c } from './formats/llama2c.js';
import { describeFsError } from './formats/model-file.js';
import { openSafetensors, openShardedSafetensors } from './formats/safetensors.js';
import type { RawTensor, TensorInfo, TensorStore } from './formats/tensor.js';
import { checkTensors } from './tensor-check.js';

export interface ModelFiles {
  format: 'gguf' | 'safetensors' | 'llama2c';
  /** What the user gave. */
  path: string;
  config: ModelConfig;
  tensors: TensorStore;
  /** For the tokenizer and chat template (tokenizer.ggml.*, tokenizer.chat_template). */
  ggufMetadata?: ReadonlyMap<string, GgufValue>;
  /** Directory holding tokenizer.json / tokenizer_config.json. */
  hfDir?: string;
  /** tokenizer.bin (or tok<N>.bin) found beside a llama2.c checkpoint. */
  llama2cTokenizer?: string;
  /** Tensors ignored because they cannot change the output (see tensor-check.ts), for the user to see. */
  warnings: string[];
}

const NOT_A_MODEL = 'not a model: expected a GGUF file, a llama2.c checkpoint, or a directory with config.json and model.safetensors';

export function openModelFiles(path: string): ModelFiles {
  // The readers report every problem they anticipate; anything else still reaches the user as a
  // ModelLoadError about this path rather than a stack trace.
  return asModelLoadError(path, 'internal error while opening the model', () => open(path));
}

function open(path: string): ModelFiles {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (err) {
    throw new ModelLoadError(path, describeFsError(err));
  }
  if (stat.isDirectory()) return openHfDir(path, path);
  const base = nodePath.basename(path);
  const dir = nodePath.dirname(path);
  // A file inside an HF directory stands for the directory.
  if ((base === 'config.json' || base.endsWith('.safetensors') || base.endsWith('.safetensors.index.json'))
    && fs.existsSync(nodePath.join(dir, 'config.json'))) {
    return openHfDir(dir, path);
  }
  if (stat.size === 0) throw new ModelLoadError(path, 'empty file');
  const head = readHead(path);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = head.byteLength >= 4 ? view.getUint32(0, true) : -1;
  if (magic === GGUF_MAGIC) return openGguf(path);
  const ints = head.byteLength >= 28 ? Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true)) : [];
  if (magic === LLAMA2C_MAGIC || plausibleLlama2cHeader(ints)) return openLlama2c(path);
  throw new ModelLoadError(path, NOT_A_MODEL);
}

function readHead(path: string): Uint8Array {
  try {
    const fd = fs.openSync(path, 'r');
    try {
      const buf = new Uint8Array(28);
      const n = fs.readSync(fd, buf, 0, buf.byteLength, 0);
      return buf.subarray(0, n);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new ModelLoadError(path, describeFsError(err));
  }
}

/** Closes the store when the config and tensors disagree, so a failed open leaks nothing. */
function checked(files: Omit<ModelFiles, 'warnings'>): ModelFiles {
  try {
    return { ...files, warnings: checkTensors(files.config, files.tensors, files.format === 'gguf') };
  } catch (err) {
    files.tensors.close();
    throw err;
  }
}

function openGguf(path: string): ModelFiles {
  const g = readGguf(path);
  let config: ModelConfig;
  try {
    config = configFromGguf(g.metadata, path, g.tensors);
  } catch (err) {
    g.tensors.close();
    throw err;
  }
  return checked({ format: 'gguf', path, config, tensors: g.tensors, ggufMetadata: g.metadata });
}

function openLlama2c(path: string): ModelFiles {
  const m = readLlama2c(path);
  const tokenizer = findLlama2cTokenizer(nodePath.dirname(path), m.config.vocabSize);
  return checked({ format: 'llama2c', path, config: m.config, tensors: m.tensors, ...(tokenizer ? { llama2cTokenizer: tokenizer } : {}) });
}

/** tok<vocab>.bin first (llama2.c's naming for custom vocabs), then tokenizer.bin, then any tok<N>.bin. */
function findLlama2cTokenizer(dir: string, vocabSize: number): string | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const pick = [`tok${vocabSize}.bin`, 'tokenizer.bin'].find((n) => entries.includes(n))
    ?? entries.filter((n) => /^tok\d+\.bin$/.test(n)).sort()[0];
  return pick === undefined ? undefined : nodePath.join(dir, pick);
}

function openHfDir(dir: string, given: string): ModelFiles {
  const configPath = nodePath.join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new ModelLoadError(configPath, `invalid JSON (${err.message})`);
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelLoadError(code === 'ENOENT' ? dir : configPath, code === 'ENOENT' ? `${NOT_A_MODEL} (no config.json)` : describeFsError(err));
  }
  const config = configFromHf(json, configPath);
  const index = nodePath.join(dir, 'model.safetensors.index.json');
  const single = nodePath.join(dir, 'model.safetensors');
  const weights = fs.existsSync(index) ? openShardedSafetensors(index)
    : fs.existsSync(single) ? openSafetensors(single)
    : null;
  if (!weights) {
    throw new ModelLoadError(dir, 'no model.safetensors or model.safetensors.index.json (other weight formats, such as pytorch_model.bin, are not supported)');
  }
  // A family whose checkpoints name tensors otherwise (OPT's model.decoder.*) is seen under the Llama names.
  const names = architecture(config.architecture).hfTensorNames;
  const named = names ? renamed(weights.tensors, names.toCanonical, names.fromCanonical) : weights.tensors;
  const tensors = config.tieWordEmbeddings ? tiedUnderEitherName(named) : named;
  return checked({ format: 'safetensors', path: given, config, tensors, hfDir: dir });
}

/** The store with every name passed through toName (fromName its inverse). */
function renamed(store: TensorStore, toName: (n: string) => string, fromName: (n: string) => string): TensorStore {
  return {
    path: store.path,
    names: () => store.names().map(toName),
    info: (name: string): TensorInfo | undefined => {
      const info = store.info(fromName(name));
      return info && { ...info, name };
    },
    read: (name: string): RawTensor => ({ ...store.read(fromName(name)), name }),
    close: () => store.close(),
  };
}

const EMBED = 'model.embed_tokens.weight';
const LM_HEAD = 'lm_head.weight';

/**
 * A tied checkpoint may store the shared matrix as lm_head.weight only (transformers loads
 * either name into the one parameter): the store then shows it as the embedding, so the model
 * uses it for both.
 */
function tiedUnderEitherName(store: TensorStore): TensorStore {
  if (store.info(EMBED) !== undefined || store.info(LM_HEAD) === undefined) return store;
  const rename = (name: string): string => (name === EMBED ? LM_HEAD : name);
  return {
    path: store.path,
    names: () => store.names().map((n) => (n === LM_HEAD ? EMBED : n)),
    info: (name: string): TensorInfo | undefined => {
      const info = name === LM_HEAD ? undefined : store.info(rename(name));
      return info && { ...info, name };
    },
    read: (name: string): RawTensor => {
      if (name === LM_HEAD) throw new ModelLoadError(store.path, `missing tensor ${LM_HEAD}`);
      return { ...store.read(rename(name)), name };
    },
    close: () => store.close(),
  };
}
