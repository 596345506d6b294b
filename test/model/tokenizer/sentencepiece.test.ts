// SentencePiece BPE (llama.cpp "SPM") against llama.cpp's Llama 2 test vectors, through both
// ways an SPM vocab reaches us: a llama2.c tokenizer.bin and GGUF metadata.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadLlama2cTokenizer, parseLlama2cTokenizer } from '../../../src/model/tokenizer/llama2c.js';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/gguf.js';
import { TokenizerError, type Tokenizer } from '../../../src/model/tokenizer/types.js';
import { readSentencePieceModel, readVectors, SHARED, TOKENIZERS } from './vectors.js';

const vectors = readVectors('llama2/ggml-vocab-llama-spm.gguf');
const fromBin = loadLlama2cTokenizer(TOKENIZERS + 'llama2/tokenizer.bin', 32000);
const model = readSentencePieceModel(TOKENIZERS + 'llama2/tokenizer.model');
const fromGguf = tokenizerFromGguf(
  new Map<string, unknown>([
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', model.pieces],
    ['tokenizer.ggml.scores', Float32Array.from(model.scores)],
    ['tokenizer.ggml.token_type', Int32Array.from(model.types)],
    ['tokenizer.ggml.bos_token_id', 1],
    ['tokenizer.ggml.eos_token_id', 2n],
    ['tokenizer.ggml.unknown_token_id', 0],
  ]),
  'llama2-test.gguf',
);

for (const [name, tok] of [['llama2.c tokenizer.bin', fromBin], ['GGUF metadata', fromGguf]] as const) {
  describe(`SentencePiece from ${name}`, () => {
    test('matches all 46 llama.cpp test vectors (no BOS, special parsing off)', () => {
      assert.equal(vectors.length, 46);
      for (const v of vectors) {
        assert.deepEqual(tok.encode(v.text, { addBos: false, parseSpecial: false }), v.ids, JSON.stringify(v.text));
      }
    });

    test('decode(encode(text)) gives the text back, with and without BOS', () => {
      for (const v of vectors) {
        assert.equal(tok.decode(tok.encode(v.text, { addBos: false })), v.text);
        assert.equal(tok.decode(tok.encode(v.text), { skipSpecial: true }), v.text);
      }
    });

    test('prepends BOS by default, as Llama 2 does', () => {
      assert.equal(tok.addBos, true);
      assert.equal(tok.bosId, 1);
      assert.deepEqual(tok.eosIds, [2]);
      assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
      assert.deepEqual(tok.encode(''), [1]);
    });
  });
}

describe('SentencePiece special tokens and decoding', () => {
  const tok: Tokenizer = fromBin;

  test('special-token text becomes its id only when parsing specials', () => {
    // llama.cpp gives the text after a special token its own dummy-prefix space: "▁[" "INST" "]".
    assert.deepEqual(tok.encode('<s>[INST]', { addBos: false }), [1, 518, 25580, 29962]);
    const literal = tok.encode('<s>[INST]', { addBos: false, parseSpecial: false });
    assert.ok(!literal.includes(1), `got ${literal}`);
    assert.equal(tok.decode(literal), '<s>[INST]');
  });

  test('control tokens decode to their text unless skipped; the space after BOS is dropped', () => {
    const ids = [1, 15043, 3186, 2];
    assert.equal(tok.decode(ids), '<s>Hello world</s>');
    assert.equal(tok.decode(ids, { skipSpecial: true }), 'Hello world');
    assert.ok(tok.isSpecial(1) && tok.isSpecial(2) && tok.isSpecial(0));
    assert.ok(!tok.isSpecial(15043));
  });

  test('a space is kept mid-sequence and after a non-initial BOS', () => {
    assert.equal(tok.decode([3186, 3186]), 'world world');
    assert.equal(tok.decode([3186, 1, 3186], { skipSpecial: true }), 'world world');
  });

  test('characters missing from the vocab fall back to UTF-8 byte pieces and come back whole', () => {
    const ids = tok.encode('🦙', { addBos: false });
    // "▁" then the four bytes F0 9F A6 99 as <0xXX> pieces (id = byte + 3).
    assert.deepEqual(ids, [29871, 0xf0 + 3, 0x9f + 3, 0xa6 + 3, 0x99 + 3]);
    assert.equal(tok.decode(ids), '🦙');
    assert.equal(tok.decode(ids.slice(0, 3)), '\uFFFD');
  });

  test('tokenId looks pieces up as stored', () => {
    assert.equal(tok.tokenId('<s>'), 1);
    assert.equal(tok.tokenId('▁Hello'), 15043);
    assert.equal(tok.tokenId('<0x0A>'), 13);
    assert.equal(tok.tokenId('no such piece'), undefined);
    assert.equal(tok.vocabSize, 32000);
  });
});

describe('llama2.c tokenizer.bin', () => {
  test('stories260K tok512.bin encodes the README example like run.c', () => {
    const tok = loadLlama2cTokenizer(SHARED + 'models/stories260K/tok512.bin', 512);
    const ids = tok.encode('Once upon a time');
    assert.deepEqual(ids, [1, 403, 407, 261, 378]);
    assert.equal(tok.decode(ids, { skipSpecial: true }), 'Once upon a time');
    assert.equal(tok.vocabSize, 512);
  });

  test('a wrong vocab size is reported with the file name', () => {
    const file = SHARED + 'models/stories260K/tok512.bin';
    const isErr = (re: RegExp) => (e: unknown) => e instanceof TokenizerError && re.test(e.message);
    assert.throws(() => loadLlama2cTokenizer(file, 511), isErr(/tok512\.bin.*bytes left/));
    assert.throws(() => loadLlama2cTokenizer(file, 600), isErr(/ends after 512 of 600/));
    assert.throws(() => loadLlama2cTokenizer(SHARED + 'no-such-file.bin', 512), TokenizerError);
    assert.throws(() => parseLlama2cTokenizer(new Uint8Array(4), 2), TokenizerError);
  });
});
