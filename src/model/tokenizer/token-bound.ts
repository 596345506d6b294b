// A lower bound on how many tokens a text becomes, from its UTF-8 length alone: no token stands
// for more than `maxInputBytesPerToken` bytes of input, so a text of B bytes is at least
// ceil(B / that) tokens. Computed once per tokenizer (one decode per id), it lets the server
// refuse a paste that cannot fit the context in microseconds, before tokenizing megabytes of it.

import type { Tokenizer } from './types.js';

const encoder = new TextEncoder();

/**
 * The most UTF-8 bytes of encode()'s input that one token can account for: the longest decoded
 * token (special and added tokens included), plus one for a dummy-prefix space the decoder drops,
 * times how much normalization can shrink the input. Byte pieces decode alone to U+FFFD (3 bytes)
 * where they cover 1: an overestimate, which only weakens the bound. Infinity: no bound.
 */
export function maxInputBytesPerToken(tokenizer: Tokenizer): number {
  const shrink = tokenizer.maxNormalizationShrink ?? 1;
  if (!Number.isFinite(shrink)) return Infinity;
  let longest = 0;
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const bytes = encoder.encode(tokenizer.decode([id], { skipSpecial: false })).length;
    if (bytes > longest) longest = bytes;
  }
  return (longest + 1) * shrink;
}

/** At least how many tokens `text` becomes (BOS not counted). */
export function minTokenCount(utf8Bytes: number, maxBytesPerToken: number): number {
  return Number.isFinite(maxBytesPerToken) ? Math.ceil(utf8Bytes / maxBytesPerToken) : 0;
}
