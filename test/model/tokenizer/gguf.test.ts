// What tokenizerFromGguf accepts from a GGUF reader's metadata map and how it reports files
// it cannot use. The vocab-level behaviour is covered by the test-vector suites; these use
// a toy vocab so each case shows one rule.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/gguf.js';
import { TokenizerError } from '../../../src/model/tokenizer/types.js';
import { SHARED } from './vectors.js';

/** <unk> <s> </s>, byte pieces for 'a' and 'b', then ▁ a b ▁a ▁b ab ▁ab. */
function spmMeta(overrides: [string, unknown][] = []): Map<string, unknown> {
  const tokens = ['<unk>', '<s>', '</s>', '<0x61>', '<0x62>', '▁', 'a', 'b', '▁a', '▁b', 'ab', '▁ab', '<|eot_id|>'];
  const scores = [0, 0, 0, 0, 0, -1, -2, -3, -4, -5, -6, -7, 0];
  const types = [2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 1, 3];
  return new Map<string, unknown>([
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.scores', scores],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.bos_token_id', 1],
    ['tokenizer.ggml.eos_token_id', 2],
    ...overrides,
  ]);
}

function fails(meta: Map<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => tokenizerFromGguf(meta, 'model.gguf'),
    (e: unknown) => e instanceof TokenizerError && e.message.startsWith('model.gguf: ') && pattern.test(e.message),
  );
}

describe('tokenizerFromGguf', () => {
  test('reads the vocab of the real stories260K.gguf, as our GGUF reader returns it', () => {
    const file = readGguf(SHARED + 'models/stories260K/stories260K.gguf');
    try {
      const tok = tokenizerFromGguf(file.metadata, 'stories260K.gguf');
      // The same ids run.c gives with tok512.bin (models/README.md section 1b).
      assert.deepEqual(tok.encode('Once upon a time'), [1, 403, 407, 261, 378]);
      assert.equal(tok.decode([1, 403, 407, 261, 378, 2], { skipSpecial: true }), 'Once upon a time');
      assert.equal(tok.vocabSize, 512);
      assert.deepEqual(tok.eosIds, [2]);
    } finally {
      file.tensors.close();
    }
  });

  test('accepts typed GGUF records { type, value } as well as plain values', () => {
    const wrapped = new Map<string, unknown>();
    for (const [key, value] of spmMeta()) wrapped.set(key, { type: Array.isArray(value) ? 'array' : typeof value, value });
    assert.deepEqual(tokenizerFromGguf(wrapped, 'model.gguf').encode('ab'), [1, 11]);
  });

  test('builds a SentencePiece tokenizer: highest-score merge wins, leftmost on ties', () => {
    const tok = tokenizerFromGguf(spmMeta(), 'model.gguf');
    // "▁ab": ▁a (score -4) beats ab (-6), then ▁a+b = ▁ab (-7).
    assert.deepEqual(tok.encode('ab'), [1, 11]);
    assert.deepEqual(tok.encode('ba', { addBos: false }), [9, 6]);
    assert.equal(tok.decode([1, 11, 2], { skipSpecial: true }), 'ab');
    assert.equal(tok.vocabSize, 13);
  });

  test('accepts typed arrays, bigint ids and explicit add_bos/add_space_prefix', () => {
    const tok = tokenizerFromGguf(
      spmMeta([
        ['tokenizer.ggml.scores', Float32Array.from([0, 0, 0, 0, 0, -1, -2, -3, -4, -5, -6, -7, 0])],
        ['tokenizer.ggml.token_type', BigInt64Array.from([2n, 3n, 3n, 6n, 6n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 3n])],
        ['tokenizer.ggml.bos_token_id', 1n],
        ['tokenizer.ggml.add_bos_token', false],
        ['tokenizer.ggml.add_space_prefix', false],
      ]),
      'model.gguf',
    );
    assert.equal(tok.addBos, false);
    assert.deepEqual(tok.encode('ab'), [10]);
    assert.equal(tok.decode([10]), 'ab');
  });

  test('end-of-turn tokens join eos: named eot/eom ids and llama.cpp\'s known end-of-generation texts', () => {
    const tok = tokenizerFromGguf(spmMeta([['tokenizer.ggml.eot_token_id', 11]]), 'model.gguf');
    assert.deepEqual([...tok.eosIds].sort((a, b) => a - b), [2, 11, 12]);
  });

  test('without token_type, byte pieces and the named specials are still recognised', () => {
    const meta = spmMeta([['tokenizer.ggml.unknown_token_id', 0]]);
    meta.delete('tokenizer.ggml.token_type');
    const tok = tokenizerFromGguf(meta, 'model.gguf');
    assert.ok(tok.isSpecial(1) && tok.isSpecial(0) && !tok.isSpecial(6));
    assert.equal(tok.decode([3, 4]), 'ab'); // <0x61><0x62> read as bytes, not as text
    assert.deepEqual(tok.encode('c', { addBos: false }), [5, 0]); // no piece and no byte piece: <unk>
  });

  test('reports an unsupported tokenizer model by name', () => {
    fails(spmMeta([['tokenizer.ggml.model', 'bert']]), /"bert".*not supported/);
  });

  test('reports an unsupported BPE pre-tokenizer by name', () => {
    const meta = new Map<string, unknown>([
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.tokens', ['a', 'b']],
      ['tokenizer.ggml.merges', ['a b']],
      ['tokenizer.ggml.pre', 'deepseek-coder'],
    ]);
    fails(meta, /pre = "deepseek-coder" is not supported/);
  });

  test('reports missing or mistyped keys with the key name', () => {
    const noModel = spmMeta();
    noModel.delete('tokenizer.ggml.model');
    fails(noModel, /tokenizer\.ggml\.model should be a string, but is missing/);
    fails(spmMeta([['tokenizer.ggml.tokens', 'abc']]), /tokenizer\.ggml\.tokens should be an array of strings, but is a string/);
    fails(spmMeta([['tokenizer.ggml.tokens', ['a', 3]]]), /tokens\[1\] should be a string, but is a number/);
    fails(spmMeta([['tokenizer.ggml.scores', [1, 2]]]), /scores has 2 entries for 13 tokens/);
    fails(spmMeta([['tokenizer.ggml.scores', ['x']]]), /scores\[0\] should be a number/);
    fails(spmMeta([['tokenizer.ggml.token_type', new Array(13).fill(9)]]), /token_type\[0\] is 9/);
    fails(spmMeta([['tokenizer.ggml.bos_token_id', 99]]), /bos_token_id = 99 is outside the 13 tokens/);
    fails(spmMeta([['tokenizer.ggml.bos_token_id', '1']]), /bos_token_id should be an integer token id, but is a string/);
    fails(spmMeta([['tokenizer.ggml.add_bos_token', 1]]), /add_bos_token should be a boolean/);
    const noScores = spmMeta();
    noScores.delete('tokenizer.ggml.scores');
    fails(noScores, /scores should be an array of numbers, but is missing/);
  });
});
