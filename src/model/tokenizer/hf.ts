// Loading a tokenizer from a Hugging Face model directory. Fast tokenizers ship tokenizer.json;
// some (Qwen2.5 as we have it, GPT-2) ship only the slow files vocab.json + merges.txt, which
// are byte-level BPE and run on our own implementation. BOS/EOS come from tokenizer_config.json,
// with generation_config.json and config.json adding the ids generation stops on.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteLevelBpeTokenizer, type AddedToken } from './bpe.js';
import { HfJsonTokenizer } from './hf-fast.js';
import type { PreTokenizerFlavour } from './pretokenize.js';
import { TokenizerError, type Tokenizer } from './types.js';

type Json = Record<string, unknown>;

/** Loads tokenizer.json, or else vocab.json + merges.txt, from `dir`. */
export function loadHfTokenizer(dir: string): Tokenizer {
  const config = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  const fast = readJson(join(dir, 'tokenizer.json'), false);
  if (fast !== undefined) {
    const lookup = (piece: string) => tokenIdInJson(fast, piece);
    const addBos = optionalBool(config, 'add_bos_token', dir);
    return new HfJsonTokenizer(fast, config, { ...specialIds(dir, config, lookup), addBos });
  }
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) return loadSlowBpe(dir, config);
  throw new TokenizerError(dir, 'no tokenizer.json, and no vocab.json + merges.txt: not a Hugging Face tokenizer directory');
}

function loadSlowBpe(dir: string, config: Json): Tokenizer {
  const vocabFile = join(dir, 'vocab.json');
  const vocab = readJson(vocabFile, true);
  for (const [piece, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id)) {
      throw new TokenizerError(vocabFile, `entry ${JSON.stringify(piece)} has id ${JSON.stringify(id)}, not an integer`);
    }
  }
  const added = addedTokens(dir, config);
  const byContent = new Map(added.map((t) => [t.content, t.id]));
  const lookup = (piece: string) => byContent.get(piece) ?? (vocab[piece] as number | undefined);
  const { bosId, eosIds } = specialIds(dir, config, lookup);
  return new ByteLevelBpeTokenizer({
    vocab: Object.entries(vocab) as [string, number][],
    merges: readMerges(join(dir, 'merges.txt')),
    added,
    flavour: flavourOfClass(config.tokenizer_class, dir),
    bosId,
    eosIds,
    addBos: (optionalBool(config, 'add_bos_token', dir) ?? false) && bosId !== null,
  });
}

/** The pre-tokenizer a slow tokenizer class implies (transformers hard-codes it per class). */
function flavourOfClass(cls: unknown, dir: string): PreTokenizerFlavour {
  if (cls === undefined || cls === 'GPT2Tokenizer' || cls === 'GPT2TokenizerFast') return 'gpt2';
  if (cls === 'Qwen2Tokenizer' || cls === 'Qwen2TokenizerFast') return 'qwen2';
  throw new TokenizerError(
    join(dir, 'tokenizer_config.json'),
    `tokenizer_class ${JSON.stringify(cls)} has no tokenizer.json and is not a byte-level BPE class ` +
      'Pensieve knows (GPT2Tokenizer, Qwen2Tokenizer)',
  );
}

function readMerges(file: string): string[] {
  const merges: string[] = [];
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const space = line.indexOf(' ', 1);
    if (space < 0 || line.indexOf(' ', space + 1) >= 0) {
      throw new TokenizerError(file, `line ${i + 1} is not "left right": ${JSON.stringify(line)}`);
    }
    merges.push(line);
  }
  return merges;
}

/**
 * Added tokens of a slow tokenizer: added_tokens.json gives content -> id, and
 * tokenizer_config.json's added_tokens_decoder (when present) says which are special.
 */
function addedTokens(dir: string, config: Json): AddedToken[] {
  const configFile = join(dir, 'tokenizer_config.json');
  const byId = new Map<number, AddedToken>();
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined) {
    if (!isObject(decoder)) throw new TokenizerError(configFile, 'added_tokens_decoder is not an object');
    for (const [key, entry] of Object.entries(decoder)) {
      const id = Number(key);
      if (!Number.isInteger(id) || !isObject(entry) || typeof entry.content !== 'string') {
        throw new TokenizerError(configFile, `added_tokens_decoder["${key}"] should be an integer key with {content: string}`);
      }
      byId.set(id, { id, content: entry.content, special: entry.special === true });
    }
  }
  const file = join(dir, 'added_tokens.json');
  const named = new Set([config.bos_token, config.eos_token, config.unk_token, config.pad_token].map(tokenText));
  for (const [content, id] of Object.entries(readJson(file, false) ?? {})) {
    if (!Number.isInteger(id)) {
      throw new TokenizerError(file, `${JSON.stringify(content)} has id ${JSON.stringify(id)}, not an integer`);
    }
    if (!byId.has(id as number)) byId.set(id as number, { id: id as number, content, special: named.has(content) });
  }
  return [...byId.values()];
}

/**
 * BOS and the ids that end generation. tokenizer_config.json names tokens by text;
 * generation_config.json / config.json give ids, and their eos_token_id may be a list
 * (Qwen2.5 stops on both <|im_end|> and <|endoftext|>; Llama 3.1 on eot, eom and end_of_text).
 */
function specialIds(
  dir: string,
  config: Json,
  lookup: (piece: string) => number | undefined,
): { bosId: number | null; eosIds: number[] } {
  const generation = readJson(join(dir, 'generation_config.json'), false) ?? {};
  const model = readJson(join(dir, 'config.json'), false) ?? {};
  const idOf = (key: 'bos_token' | 'eos_token') => {
    const text = tokenText(config[key]);
    return text === undefined ? undefined : lookup(text);
  };
  const bosId = idOf('bos_token') ?? idList(generation.bos_token_id)[0] ?? idList(model.bos_token_id)[0] ?? null;
  const eos = new Set<number>();
  const eosText = idOf('eos_token');
  if (eosText !== undefined) eos.add(eosText);
  for (const id of [...idList(generation.eos_token_id), ...idList(model.eos_token_id)]) eos.add(id);
  return { bosId, eosIds: [...eos] };
}

function idList(v: unknown): number[] {
  if (Number.isInteger(v)) return [v as number];
  return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x)) : [];
}

/** A special token in tokenizer_config.json: a string, or an AddedToken object {content}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  return isObject(v) && typeof v.content === 'string' ? v.content : undefined;
}

function tokenIdInJson(json: Json, piece: string): number | undefined {
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens) if (isObject(t) && t.content === piece && Number.isInteger(t.id)) return t.id as number;
  }
  const vocab = isObject(json.model) ? json.model.vocab : undefined;
  const id = isObject(vocab) ? vocab[piece] : undefined;
  return Number.isInteger(id) ? (id as number) : undefined;
}

function optionalBool(config: Json, key: string, dir: string): boolean | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    throw new TokenizerError(join(dir, 'tokenizer_config.json'), `${key} should be a boolean, not ${JSON.stringify(v)}`);
  }
  return v;
}

function readJson(file: string, required: true): Json;
function readJson(file: string, required: false): Json | undefined;
function readJson(file: string, required: boolean): Json | undefined {
  if (!existsSync(file)) {
    if (required) throw new TokenizerError(file, 'file not found');
    return undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TokenizerError(file, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(v)) throw new TokenizerError(file, 'should hold a JSON object');
  return v;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
