// Loads a servable model from what the user names: the files (or the built-in
// demo), the packed weights, the tokenizer and the chat template, and the ids
// that end generation. Everything a user can get wrong here surfaces as a
// ModelLoadError or TokenizerError naming the file.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { defaultKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { chatTemplateFromConfig, loadChatTemplateFromDir } from './chat-template.js';
import type { ModelConfig } from './config.js';
import { DEMO_CONFIG, DEMO_MODEL_ID, demoModel } from './demo.js';
import { ModelLoadError } from './errors.js';
import { readGguf } from './formats/gguf.js';
import { ggufPlainMetadata } from './formats/gguf-types.js';
import { openModelFiles, type ModelFiles } from './model-files.js';
import { byteTokenizer, loadLlama2cTokenizer, loadTokenizerFromDir, tokenizerFromGguf, type Tokenizer } from './tokenizer/index.js';
import { Transformer } from './transformer.js';
import { loadWeights, type WeightFormat } from './weights.js';

export interface LoadedModel {
  /** The name clients use (`model` in the APIs). */
  id: string;
  /** What was loaded: a path, or the demo model's marker. */
  source: string;
  format: ModelFiles['format'] | 'demo';
  config: ModelConfig;
  transformer: Transformer;
  tokenizer: Tokenizer;
  /** The model's own chat template, if its files carry one. */
  chatTemplate: string | null;
  /** Token ids that end generation. */
  stopIds: number[];
}

export interface LoadModelOptions {
  /** A tokenizer file or directory, when it is not beside the model. */
  tokenizer?: string;
  kernels?: Kernels;
  weightFormat?: WeightFormat;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  warn?: (message: string) => void;
}

/** Loads `path`, or the built-in demo model when `path` is undefined. */
export async function loadModel(path: string | undefined, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const kernels = opts.kernels ?? (await defaultKernels());
  if (opts.threads !== undefined) kernels.setThreads(opts.threads);

  if (path === undefined) {
    opts.warn?.(`no --model given: using the built-in demo model '${DEMO_MODEL_ID}' (random weights, byte tokenizer); its output is noise`);
    const demo = demoModel();
    const weights = loadWeights(demo.config, demo.tensors, kernels, { format: opts.weightFormat, onProgress: opts.onProgress });
    const tokenizer = opts.tokenizer ? loadTokenizerAt(opts.tokenizer, demo.config) : demo.tokenizer;
    return {
      id: DEMO_MODEL_ID,
      source: DEMO_MODEL_ID,
      format: 'demo',
      config: demo.config,
      transformer: new Transformer(demo.config, weights, kernels),
      tokenizer,
      chatTemplate: null,
      stopIds: stopIdsFor(demo.config, tokenizer, false),
    };
  }

  const files = openModelFiles(path);
  try {
    for (const warning of files.warnings) opts.warn?.(warning);
    const tokenizer = opts.tokenizer ? loadTokenizerAt(opts.tokenizer, files.config) : tokenizerBeside(files);
    if (tokenizer.vocabSize > files.config.vocabSize) {
      throw new ModelLoadError(path, `the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${files.config.vocabSize}`);
    }
    const weights = loadWeights(files.config, files.tensors, kernels, { format: opts.weightFormat, onProgress: opts.onProgress });
    return {
      id: modelIdFor(path),
      source: path,
      format: files.format,
      config: files.config,
      transformer: new Transformer(files.config, weights, kernels),
      tokenizer,
      chatTemplate: chatTemplateOf(files),
      stopIds: stopIdsFor(files.config, tokenizer, files.format === 'llama2c'),
    };
  } finally {
    files.tensors.close();
  }
}

/** What turning prompts into tokens needs, without the weights (the prompt worker's share of a model). */
export interface PromptFiles {
  tokenizer: Tokenizer;
  chatTemplate: string | null;
  /** The model's embedding rows (token ids must be below this). */
  vocabSize: number;
}

/** The tokenizer and chat template of `path` (or of the demo model), as loadModel would find them. */
export function loadPromptFiles(path: string | undefined, opts: { tokenizer?: string; chatTemplate?: string } = {}): PromptFiles {
  let out: PromptFiles;
  if (path === undefined) {
    const tokenizer = opts.tokenizer ? loadTokenizerAt(opts.tokenizer, DEMO_CONFIG) : byteTokenizer();
    out = { tokenizer, chatTemplate: null, vocabSize: DEMO_CONFIG.vocabSize };
  } else {
    const files = openModelFiles(path);
    try {
      const tokenizer = opts.tokenizer ? loadTokenizerAt(opts.tokenizer, files.config) : tokenizerBeside(files);
      out = { tokenizer, chatTemplate: chatTemplateOf(files), vocabSize: files.config.vocabSize };
    } finally {
      files.tensors.close();
    }
  }
  if (opts.chatTemplate) out.chatTemplate = readChatTemplateFile(opts.chatTemplate);
  return out;
}

/** --chat-template: a Jinja file, or a tokenizer_config.json holding one. */
export function readChatTemplateFile(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  if (!file.endsWith('.json')) return text;
  const template = chatTemplateFromConfig(JSON.parse(text));
  if (template === null) throw new Error(`${file}: no chat_template in this file`);
  return template;
}

function tokenizerBeside(files: ModelFiles): Tokenizer {
  if (files.ggufMetadata) return tokenizerFromGguf(files.ggufMetadata, files.path);
  if (files.hfDir) return loadTokenizerFromDir(files.hfDir);
  if (files.llama2cTokenizer) return loadLlama2cTokenizer(files.llama2cTokenizer, files.config.vocabSize);
  throw new ModelLoadError(files.path, 'no tokenizer found beside the model: pass --tokenizer FILE|DIR');
}

/** --tokenizer: a directory (tokenizer.json / vocab.json+merges.txt), a tokenizer.json, a GGUF, or a llama2.c tokenizer.bin. */
function loadTokenizerAt(path: string, config: ModelConfig): Tokenizer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch {
    throw new ModelLoadError(path, 'tokenizer path does not exist');
  }
  if (stat.isDirectory()) return loadTokenizerFromDir(path);
  if (nodePath.basename(path) === 'tokenizer.json') return loadTokenizerFromDir(nodePath.dirname(path));
  if (path.endsWith('.gguf')) return tokenizerFromGguf(readGguf(path).metadata, path);
  if (path.endsWith('.bin')) return loadLlama2cTokenizer(path, config.vocabSize);
  throw new ModelLoadError(path, 'unrecognized tokenizer: expected a directory, tokenizer.json, a .gguf or a llama2.c tokenizer .bin');
}

function chatTemplateOf(files: ModelFiles): string | null {
  if (files.ggufMetadata) {
    const template = ggufPlainMetadata(files.ggufMetadata).get('tokenizer.chat_template');
    return typeof template === 'string' ? chatTemplateFromConfig({ chat_template: template }) : null;
  }
  if (files.hfDir) return loadChatTemplateFromDir(files.hfDir);
  return null;
}

/** run.c semantics for llama2.c checkpoints: generation also stops when BOS is produced. */
function stopIdsFor(config: ModelConfig, tokenizer: Tokenizer, stopOnBos: boolean): number[] {
  const ids = new Set([...tokenizer.eosIds, ...config.eosTokenIds]);
  if (stopOnBos && tokenizer.bosId !== null) ids.add(tokenizer.bosId);
  return [...ids].sort((a, b) => a - b);
}

function modelIdFor(path: string): string {
  const base = nodePath.basename(nodePath.resolve(path));
  return base.replace(/\.(gguf|bin|safetensors)$/, '');
}
