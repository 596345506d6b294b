// The tokenizer package's front door: one interface, and a loader per place a vocab lives
// (a Hugging Face directory, GGUF metadata, a llama2.c tokenizer.bin, the built-in byte vocab).

import { existsSync, statSync } from 'node:fs';
import { loadHfTokenizer } from './hf.js';
import { TokenizerError, type Tokenizer } from './types.js';

export { TokenType, TokenizerError, type DecodeOptions, type EncodeOptions, type Tokenizer } from './types.js';
export { StreamDecoder, type StreamDecoderOptions } from './stream.js';
export { SentencePieceTokenizer, type SentencePieceVocab } from './sentencepiece.js';
export { ByteLevelBpeTokenizer, type AddedToken, type ByteLevelBpeVocab } from './bpe.js';
export type { PreTokenizerFlavour } from './pretokenize.js';
export { tokenizerFromGguf } from './gguf.js';
export { loadLlama2cTokenizer, parseLlama2cTokenizer } from './llama2c.js';
export { byteTokenizer } from './byte.js';

/**
 * Loads the tokenizer of a Hugging Face model directory: tokenizer.json, else the slow
 * vocab.json + merges.txt. A llama2.c tokenizer.bin is not found this way because it does not
 * record its own vocab size; use loadLlama2cTokenizer(path, vocabSize) with the model header's.
 */
export function loadTokenizerFromDir(dir: string): Tokenizer {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TokenizerError(dir, 'not a directory');
  return loadHfTokenizer(dir);
}
