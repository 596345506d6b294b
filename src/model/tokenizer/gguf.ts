// The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata. The GGUF reader
// hands us its metadata map as plain JS values; this module checks their shapes (arrays may
// be typed arrays, integers may be bigints) and builds the SentencePiece or byte-level BPE
// tokenizer with llama.cpp's defaults.

import { parseByteToken } from './bytes.js';
import { ByteLevelBpeTokenizer, type AddedToken } from './bpe.js';
import { flavourOfPre, preTokenizer, supportedPreNames } from './pretokenize.js';
import { SentencePieceTokenizer } from './sentencepiece.js';
import { TokenType, TokenizerError, isTokenType, type Tokenizer } from './types.js';

const P = 'tokenizer.ggml.';

/**
 * Control tokens llama.cpp also treats as end-of-generation, because a GGUF names a single
 * eos id while chat models stop on their end-of-turn token (llama-vocab.cpp, special_eog_ids).
 */
const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|eom_id|>', '<EOT>', '<|end_of_text|>',
]);

export function tokenizerFromGguf(meta: ReadonlyMap<string, unknown>, file: string): Tokenizer {
  const m = new MetaReader(meta, file);
  const model = m.string('model', true);
  const tokens = m.strings('tokens', true);
  const n = tokens.length;
  if (n === 0) throw new TokenizerError(file, `${P}tokens is empty`);
  const rawTypes = m.numbers('token_type', false);
  if (rawTypes !== undefined && rawTypes.length !== n) {
    throw new TokenizerError(file, `${P}token_type has ${rawTypes.length} entries for ${n} tokens`);
  }
  const bosId = m.tokenId('bos_token_id', n);
  const eosId = m.tokenId('eos_token_id', n);
  // llama.cpp ignores an out-of-range unknown_token_id (some files write -1 as u32) and keeps
  // its default; the unk is only a fallback for text, so a bad one must not refuse the model.
  const unkId = m.tokenIdOrNull('unknown_token_id', n);
  const named = [eosId, m.tokenId('eot_token_id', n), m.tokenId('eom_token_id', n)];
  const types = new Uint8Array(n);
  for (let id = 0; id < n; id++) {
    const t = rawTypes === undefined ? guessType(model, tokens[id]!, id, { bosId, unkId, named }) : rawTypes[id]!;
    if (!isTokenType(t)) throw new TokenizerError(file, `${P}token_type[${id}] is ${t}, not a token type 1..6`);
    types[id] = t;
  }
  const eosIds = new Set<number>();
  for (const id of named) if (id !== null) eosIds.add(id);
  for (let id = 0; id < n; id++) {
    if (types[id] === TokenType.Control && EOG_TEXTS.has(tokens[id]!)) eosIds.add(id);
  }
  const addBos = m.boolean('add_bos_token');

  if (model === 'llama') {
    const scores = m.numbers('scores', true);
    if (scores.length !== n) throw new TokenizerError(file, `${P}scores has ${scores.length} entries for ${n} tokens`);
    return new SentencePieceTokenizer({
      pieces: tokens,
      scores,
      types,
      bosId,
      eosIds: [...eosIds],
      addBos: (addBos ?? true) && bosId !== null,
      addSpacePrefix: m.boolean('add_space_prefix') ?? true,
      unkId,
    });
  }
  if (model === 'gpt2') {
    const pre = m.string('pre', false);
    const flavour = flavourOfPre(pre);
    if (flavour === undefined) {
      const supported = supportedPreNames().join(', ');
      throw new TokenizerError(file, `pre-tokenizer ${P}pre = "${pre}" is not supported (supported: ${supported})`);
    }
    const merges = m.strings('merges', true);
    const vocab: [string, number][] = [];
    const added: AddedToken[] = [];
    for (let id = 0; id < n; id++) {
      const t = types[id];
      if (t === TokenType.Control || t === TokenType.Unknown) added.push({ id, content: tokens[id]!, special: true });
      else if (t === TokenType.UserDefined) added.push({ id, content: tokens[id]!, special: false });
      else if (t !== TokenType.Unused) vocab.push([tokens[id]!, id]);
    }
    return new ByteLevelBpeTokenizer({
      vocab,
      merges,
      added,
      flavour,
      normalize: null,
      bosId,
      eosIds: [...eosIds],
      addBos: (addBos ?? preTokenizer(flavour).addBosByDefault) && bosId !== null,
      vocabSize: n,
    });
  }
  throw new TokenizerError(
    file,
    `tokenizer model "${model}" (${P}model) is not supported; Pensieve reads "llama" (SentencePiece) and "gpt2" (byte-level BPE)`,
  );
}

/** Without token_type llama.cpp would call everything normal; recover the kinds that matter. */
function guessType(
  model: string,
  piece: string,
  id: number,
  known: { bosId: number | null; unkId: number | null; named: readonly (number | null)[] },
): number {
  if (id === known.unkId) return TokenType.Unknown;
  if (id === known.bosId || known.named.includes(id)) return TokenType.Control;
  if (model === 'llama' && parseByteToken(piece) !== undefined) return TokenType.Byte;
  return TokenType.Normal;
}

/** Typed access to `tokenizer.ggml.<key>` with errors that name the file and the key. */
class MetaReader {
  constructor(
    private readonly meta: ReadonlyMap<string, unknown>,
    private readonly file: string,
  ) {}

  /**
   * The value under `tokenizer.ggml.<key>`. Readers may store plain values or GGUF's typed
   * records `{ type, value }` (src/model/formats keeps the type so files round-trip); take both.
   */
  private get(key: string): unknown {
    const v: unknown = this.meta.get(P + key);
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'value' in v && 'type' in v) {
      return (v as { value: unknown }).value;
    }
    return v;
  }

  private fail(key: string, want: string, got: unknown): never {
    const what = got === undefined ? 'missing' : `a ${describe(got)}`;
    throw new TokenizerError(this.file, `${P}${key} should be ${want}, but is ${what}`);
  }

  string(key: string, required: true): string;
  string(key: string, required: false): string | undefined;
  string(key: string, required: boolean): string | undefined {
    const v = this.get(key);
    if (v === undefined && !required) return undefined;
    return typeof v === 'string' ? v : this.fail(key, 'a string', v);
  }

  strings(key: string, required: true): string[] {
    const v = this.get(key);
    if (!Array.isArray(v)) return this.fail(key, 'an array of strings', v);
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'string') this.fail(`${key}[${i}]`, 'a string', v[i]);
    }
    return v as string[];
  }

  numbers(key: string, required: true): ArrayLike<number>;
  numbers(key: string, required: false): ArrayLike<number> | undefined;
  numbers(key: string, required: boolean): ArrayLike<number> | undefined {
    const v = this.get(key);
    if (v === undefined && !required) return undefined;
    const bigints = v instanceof BigInt64Array || v instanceof BigUint64Array;
    if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !bigints) return v as unknown as ArrayLike<number>;
    if (!Array.isArray(v) && !bigints) return this.fail(key, 'an array of numbers', v);
    const out = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'number') out[i] = x;
      else if (typeof x === 'bigint') out[i] = Number(x);
      else this.fail(`${key}[${i}]`, 'a number', x);
    }
    return out;
  }

  boolean(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? v : this.fail(key, 'a boolean', v);
  }

  /** An optional token id; must name one of the `n` tokens. */
  tokenId(key: string, n: number): number | null {
    const v = this.get(key);
    if (v === undefined) return null;
    const id = typeof v === 'bigint' ? Number(v) : v;
    if (typeof id !== 'number' || !Number.isInteger(id)) return this.fail(key, 'an integer token id', v);
    if (id < 0 || id >= n) throw new TokenizerError(this.file, `${P}${key} = ${id} is outside the ${n} tokens`);
    return id;
  }

  /** As tokenId, but an id outside the tokens reads as absent (llama.cpp's "bad special token"). */
  tokenIdOrNull(key: string, n: number): number | null {
    const v = this.get(key);
    const id = typeof v === 'bigint' ? Number(v) : v;
    if (typeof id === 'number' && Number.isInteger(id) && (id < 0 || id >= n)) return null;
    return this.tokenId(key, n);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}
