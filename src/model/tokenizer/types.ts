// The contract every tokenizer in Pensieve honours, whatever file it was loaded from
// (SentencePiece, byte-level BPE, a Hugging Face tokenizer.json, the demo byte vocab), so
// the engine, the chat layer and the stream decoder never ask which kind they hold.

export interface EncodeOptions {
  /** Prepend BOS; defaults to the model's own add_bos setting (`Tokenizer.addBos`). */
  addBos?: boolean;
  /**
   * Recognise special tokens written in the text ("<|im_end|>" becomes its id). Defaults to
   * true because chat templates are rendered to text and must come back as control ids; pass
   * false for untrusted user text so it cannot forge turn boundaries.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Leave out control/special tokens (BOS, EOS, <|im_start|>...). Defaults to false. */
  skipSpecial?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** Every id that ends generation (eos, eot, im_end...). */
  readonly eosIds: readonly number[];
  /** Whether encode() prepends BOS by default (the model's add_bos setting). */
  readonly addBos: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  isSpecial(id: number): boolean;
  /** Look up a token by its stored string (e.g. "<|im_end|>"). */
  tokenId(piece: string): number | undefined;
  /**
   * How many times shorter (in UTF-8 bytes) normalization can make the text before it is cut
   * into tokens: 1 or absent when it never shrinks, 3 for NFC (a Hangul jamo triple composes into
   * one syllable), Infinity when it may delete text or one token may stand for any run of it.
   * It keeps the token-count bound of token-bound.ts sound.
   */
  readonly maxNormalizationShrink?: number;
  /**
   * The bytes token `id` adds to the text mid-stream (after other tokens), even when they are
   * part of a character: what grammar-constrained decoding matches. null: it adds none
   * (control tokens). Absent: grammar/vocab.ts falls back to decode().
   */
  tokenBytes?(id: number): Uint8Array | null;
}

/**
 * Token kinds as llama.cpp and SentencePiece number them (the values of GGUF's
 * `tokenizer.ggml.token_type`), so GGUF metadata can be used without translation.
 */
export const TokenType = {
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

export function isTokenType(n: number): n is TokenType {
  return Number.isInteger(n) && n >= 1 && n <= 6;
}

/** A tokenizer file that cannot be used; the message names the file and what is wrong. */
export class TokenizerError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'TokenizerError';
    this.file = file;
  }
}
