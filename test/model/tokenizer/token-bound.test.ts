// The token-count bound must never exceed the real count (or the server would refuse a prompt
// that fits): checked on every kind of tokenizer against texts built to be cheap in tokens —
// runs of each vocabulary's longest tokens, whitespace runs, composed Unicode — and random text.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { byteTokenizer, loadLlama2cTokenizer, loadTokenizerFromDir, tokenizerFromGguf, type Tokenizer } from '../../../src/model/tokenizer/index.js';
import { maxInputBytesPerToken, minTokenCount } from '../../../src/model/tokenizer/token-bound.js';
import { MODELS, SHARED } from '../../helpers/paths.js';
import { mulberry32 } from '../../helpers/random.js';

const STORIES = path.join(MODELS, 'stories260K', 'stories260K.gguf');
const TOKENIZERS: Array<[string, () => Tokenizer]> = [
  ['stories260K gguf (SentencePiece)', () => tokenizerFromGguf(readGguf(STORIES).metadata, STORIES)],
  ['llama2 tokenizer.bin', () => loadLlama2cTokenizer(path.join(SHARED, 'tokenizers', 'llama2', 'tokenizer.bin'), 32000)],
  ['qwen2.5 vocab.json+merges.txt (NFC)', () => loadTokenizerFromDir(path.join(SHARED, 'tokenizers', 'qwen2.5'))],
  ['tinyllama tokenizer.json', () => loadTokenizerFromDir(path.join(SHARED, 'tokenizers', 'tinyllama-1.1b-chat'))],
  ['demo bytes', () => byteTokenizer()],
];

const bytes = (s: string) => Buffer.byteLength(s);

for (const [name, load] of TOKENIZERS) {
  test(`${name}: the bound never exceeds the token count`, () => {
    const tok = load();
    const L = maxInputBytesPerToken(tok);
    assert.ok(L > 1 && Number.isFinite(L), `${name}: ${L}`);
    // The longest tokens, repeated: the cheapest text there is per byte.
    const pieces = Array.from({ length: tok.vocabSize }, (_, id) => tok.decode([id], { skipSpecial: false }))
      .filter((p) => !p.includes('\uFFFD'))
      .sort((a, b) => bytes(b) - bytes(a))
      .slice(0, 20);
    const rand = mulberry32(7);
    const texts = [
      ...pieces.map((p) => p.repeat(50)),
      pieces.join(''),
      ' '.repeat(5000),
      '\n'.repeat(3000),
      '\u1100\u1161\u11A8'.repeat(500), // Hangul jamo: NFC composes three into one syllable
      'e\u0301'.repeat(500),
      Array.from({ length: 3000 }, () => String.fromCodePoint(32 + Math.floor(rand() * 0x2fff))).join(''),
      'All work and no play makes Jack a dull boy. '.repeat(100),
    ];
    for (const text of texts) {
      const n = tok.encode(text, { addBos: false, parseSpecial: true }).length;
      const bound = minTokenCount(bytes(text), L);
      assert.ok(bound <= n, `${name}: bound ${bound} > ${n} tokens for ${JSON.stringify(text.slice(0, 40))}`);
    }
    // And it is not vacuous: a 20 MB paste is bounded at over 50k tokens even for Qwen's vocabulary
    // (a token of 128 spaces, times NFC's 3: 387 bytes a token).
    assert.ok(minTokenCount(20e6, L) > 50_000, `${name}: ${L} bytes a token`);
  });
}
