// The streaming detokenizer must produce, piece by piece, exactly what one decode of all the
// ids produces — for SentencePiece (leading-space rules, byte fallback), for byte-level BPE
// (characters split across tokens) and for tokenizer.json — and never emit half a character.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byteTokenizer } from '../../../src/model/tokenizer/byte.js';
import { loadTokenizerFromDir } from '../../../src/model/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/model/tokenizer/llama2c.js';
import { StreamDecoder, type StreamDecoderOptions } from '../../../src/model/tokenizer/stream.js';
import type { Tokenizer } from '../../../src/model/tokenizer/types.js';
import { readVectors, TOKENIZERS } from './vectors.js';

function streamAll(tok: Tokenizer, ids: readonly number[], opts: StreamDecoderOptions = {}): string[] {
  const sd = new StreamDecoder(tok, opts);
  const chunks = ids.map((id) => sd.push(id));
  chunks.push(sd.flush());
  return chunks;
}

const EXTRA = [
  'Hello world', ' leading space', '🦙🦙 emoji 😶‍🌫️ and 你好 and Cửa Việt', 'a\n\n b\tc', '', ' ',
];

const tokenizers: [string, Tokenizer, string][] = [
  ['SentencePiece (llama2.c)', loadLlama2cTokenizer(TOKENIZERS + 'llama2/tokenizer.bin', 32000), 'llama2/ggml-vocab-llama-spm.gguf'],
  ['tokenizer.json (TinyLlama)', loadTokenizerFromDir(TOKENIZERS + 'tinyllama-1.1b-chat'), 'llama2/ggml-vocab-llama-spm.gguf'],
  ['byte-level BPE (Qwen2.5)', loadTokenizerFromDir(TOKENIZERS + 'qwen2.5'), 'qwen2.5/llamacpp-test-vectors.qwen2'],
  ['byte tokenizer', byteTokenizer(), 'qwen2.5/llamacpp-test-vectors.qwen2'],
];

for (const [name, tok, base] of tokenizers) {
  describe(`StreamDecoder over ${name}`, () => {
    const texts = [...readVectors(base).map((v) => v.text), ...EXTRA];

    test('streamed text equals one decode of all ids, for every test text', () => {
      for (const text of texts) {
        const ids = tok.encode(text, { addBos: true });
        for (const skipSpecial of [true, false]) {
          const streamed = streamAll(tok, ids, { skipSpecial }).join('');
          assert.equal(streamed, tok.decode(ids, { skipSpecial }), JSON.stringify({ text, skipSpecial }));
        }
        assert.equal(streamAll(tok, ids).join(''), text);
      }
    });

    test('never emits a partial character', () => {
      for (const text of texts) {
        for (const chunk of streamAll(tok, tok.encode(text))) assert.ok(!chunk.includes('\uFFFD'), JSON.stringify(text));
      }
    });

    test('special tokens in the middle of the stream', () => {
      const ids = tok.encode('Hi there', { addBos: true });
      const eos = tok.eosIds[0]!;
      const withEos = [...ids, eos, ...tok.encode(' again', { addBos: false })];
      assert.equal(streamAll(tok, withEos).join(''), tok.decode(withEos, { skipSpecial: true }));
      assert.equal(streamAll(tok, withEos, { skipSpecial: false }).join(''), tok.decode(withEos));
    });
  });
}

describe('StreamDecoder details', () => {
  const spm = tokenizers[0]![1];

  test('holds back a character until its last byte arrives', () => {
    const ids = spm.encode('🦙', { addBos: false }); // ▁ + four byte pieces
    const sd = new StreamDecoder(spm);
    assert.deepEqual(ids.map((id) => sd.push(id)), ['', '', '', '', '🦙']);
    assert.equal(sd.flush(), '');
  });

  test('flush emits an incomplete character as U+FFFD', () => {
    const sd = new StreamDecoder(spm);
    for (const id of spm.encode('🦙', { addBos: false }).slice(0, 3)) sd.push(id);
    assert.equal(sd.flush(), '\uFFFD');
  });

  test('context ids keep the first new word\'s leading space', () => {
    const prompt = spm.encode('Once upon a');
    const next = spm.encode('Once upon a time', { addBos: true }).slice(prompt.length);
    assert.equal(streamAll(spm, next).join(''), 'time');
    assert.equal(streamAll(spm, next, { context: prompt }).join(''), ' time');
  });

  test('a BOS in mid-stream does not eat the space of the word after it', () => {
    const ids = [...spm.encode('one', { addBos: false }), spm.bosId!, ...spm.encode(' two', { addBos: false })];
    const streamed = streamAll(spm, ids, { skipSpecial: false }).join('');
    assert.equal(streamed, spm.decode(ids));
  });
});
