// The texts, pre-tokenizer names and vocabulary of the pre-tokenizer references
// (bench/llama-cpp/make-pretokenizer-references.ts writes llama.cpp's ids for them). The vocabulary
// is Llama 3's (../shared/tokenizers/llama3.2: encoder.json + vocab.bpe), whose tokens include
// digit runs and contractions, so digit grouping and contraction rules show in the ids.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RandomModelVocab } from '../../../src/model/random-model.js';

/** GGUF `tokenizer.ggml.pre` values, one per flavour and a few aliases. */
export const PRE_NAMES = ['default', 'gpt-2', 'llama-bpe', 'qwen2', 'deepseek-r1-qwen', 'smollm', 'starcoder', 'tekken', 'gpt-4o', 'llama4'];

/** Llama 3's 128,000 ordinary tokens and its merges, as a GGUF vocab (no special tokens). */
export function llama3Vocab(tokenizers: string): RandomModelVocab {
  const dir = join(tokenizers, 'llama3.2');
  const encoder = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const tokens: string[] = [];
  for (const [text, id] of Object.entries(encoder)) tokens[id] = text;
  const merges = readFileSync(join(dir, 'vocab.bpe'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#version'));
  return { source: dir, tokens, types: tokens.map(() => 1), merges, chatTemplate: null, whole: true };
}

/** Texts on which the pre-tokenizers disagree with one another. */
export const PRE_TEXTS = [
  'Hello World HELLO wORLD CamelCaseWord iPhone XMLHttpRequest',
  "don't I'LL we've They'RE you'd it's O'Neil",
  '1234567 3.14159 12,345,678 v2.0.1 0x1F',
  'naïve café Ünïcödé ÀÉÎ straße ǅemal',
  'Привет Мир ΑΒΓ αβγ Ωmega',
  '日本語のテキスト 中文字符 한국어 텍스트',
  '  leading spaces\n\n\ttabs   \n trailing  ',
  'path/to/file.txt\n/usr/bin/env node\n//comment',
  'emoji 🦙🚀 and $100 +-*/ <=> ^~| @#% &&',
  'e\u0301 combining a\u0308 marks',
  '\u00a0nbsp\u2003em space\u3000ideographic\u0085nel',
  'line1\r\nline2\rline3\n\n\nline4',
  '__init__ foo_bar(baz)!!! ??? ... ---',
  'MixedCASE123abcDEF456ghi',
  '   ',
  'x',
  'The year 2024: 1,000,000 users; 99.9% uptime!',
  "def f(x):\n    return x**2  # square\n",
];
