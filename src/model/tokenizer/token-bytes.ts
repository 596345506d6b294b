// One token's bytes and text as they read inside a reply: what logprobs report for each token
// (OpenAI's `token` and `bytes`) and /tokenize's token strings. A byte-level token may hold part
// of a character, so its bytes are the truth and its text may carry U+FFFD. Control tokens have no
// bytes of their own (Tokenizer.tokenBytes gives null): they read as their decoded text.
import { utf8Bytes } from './bytes.js';
import type { Tokenizer } from './types.js';

export interface TokenPiece {
  text: string;
  bytes: number[];
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export function tokenPiece(tokenizer: Tokenizer, id: number): TokenPiece {
  const bytes = tokenizer.tokenBytes?.(id) ?? utf8Bytes(tokenizer.decode([id]));
  return { text: decoder.decode(bytes), bytes: Array.from(bytes) };
}
