// One token's bytes and text as they read inside a reply: what logprobs report for each token
// (OpenAI's `token` and `bytes`) and /tokenize's token strings. A byte-level token may hold part
// of a character, so its bytes are the truth and its text may carry U+FFFD.
import { utf8Bytes } from './bytes.js';
import type { Tokenizer } from './types.js';

export interface TokenPiece {
  text: string;
  bytes: number[];
}

export function tokenPiece(tokenizer: Tokenizer, id: number): TokenPiece {
  const opts = { continuation: true };
  const bytes = tokenizer.decodeBytes ? tokenizer.decodeBytes([id], opts) : utf8Bytes(tokenizer.decode([id], opts));
  return { text: tokenizer.decode([id], opts), bytes: Array.from(bytes) };
}
