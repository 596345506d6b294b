// Loading tokenizers from Hugging Face model directories: tokenizer.json through
// @huggingface/tokenizers (TinyLlama, checked against llama.cpp's Llama 2 vectors since it
// is the same vocab), the slow vocab.json + merges.txt path, and the errors for bad directories.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BYTE_TO_CHAR } from '../../../src/model/tokenizer/bytes.js';
import { loadTokenizerFromDir } from '../../../src/model/tokenizer/index.js';
import { preTokenizer } from '../../../src/model/tokenizer/pretokenize.js';
import { TokenizerError } from '../../../src/model/tokenizer/types.js';
import { readVectors, TOKENIZERS } from './vectors.js';

describe('tokenizer.json (TinyLlama-1.1B-Chat)', () => {
  const tok = loadTokenizerFromDir(TOKENIZERS + 'tinyllama-1.1b-chat');
  const vectors = readVectors('llama2/ggml-vocab-llama-spm.gguf');

  test('matches all 46 llama.cpp Llama 2 vectors', () => {
    for (const v of vectors) {
      assert.deepEqual(tok.encode(v.text, { addBos: false, parseSpecial: false }), v.ids, JSON.stringify(v.text));
    }
  });

  test('decode(encode(text)) gives the text back', () => {
    for (const v of vectors) assert.equal(tok.decode(tok.encode(v.text), { skipSpecial: true }), v.text);
  });

  test('BOS/EOS and add_bos come from tokenizer_config.json', () => {
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.eosIds, [2]);
    assert.equal(tok.addBos, true);
    assert.equal(tok.vocabSize, 32000);
    assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
    assert.deepEqual(tok.encode(''), [1]);
  });

  test('special tokens: parsed in text by default, literal when parsing is off, skippable in decode', () => {
    assert.deepEqual(tok.encode('hi</s>', { addBos: false }), [7251, 2]);
    const literal = tok.encode('hi</s>', { addBos: false, parseSpecial: false });
    assert.ok(!literal.includes(2) && literal.length > 2, `got ${literal}`);
    assert.equal(tok.decode(literal), 'hi</s>');
    assert.equal(tok.decode([1, 15043, 2], { skipSpecial: true }), 'Hello');
    assert.ok(tok.isSpecial(2) && !tok.isSpecial(15043));
    assert.equal(tok.tokenId('</s>'), 2);
    assert.equal(tok.tokenId('▁Hello'), 15043);
    assert.equal(tok.decode([]), '');
  });
});

describe('loadTokenizerFromDir on hand-made directories', () => {
  const root = mkdtempSync(join(tmpdir(), 'pensieve-hf-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const dir = (name: string, files: Record<string, string>) => {
    const path = join(root, name);
    mkdirSync(path);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
    return path;
  };

  test('slow GPT-2 files: merges by rank, eos ids from config.json lists', () => {
    const G = BYTE_TO_CHAR[0x20]!; // "Ġ", GPT-2's spelling of a space
    const vocab: Record<string, number> = {};
    for (let b = 0; b < 256; b++) vocab[BYTE_TO_CHAR[b]!] = b;
    Object.assign(vocab, { [G + 'a']: 256, ab: 257, [G + 'ab']: 258 });
    const d = dir('gpt2', {
      'vocab.json': JSON.stringify(vocab),
      'merges.txt': `#version: 0.2\n${G} a\na b\n${G}a b\n`,
      'added_tokens.json': JSON.stringify({ '<|endoftext|>': 259 }),
      'tokenizer_config.json': JSON.stringify({ eos_token: '<|endoftext|>', bos_token: { content: '<|endoftext|>' } }),
      'config.json': JSON.stringify({ eos_token_id: [259, 7] }),
    });
    const tok = loadTokenizerFromDir(d);
    assert.deepEqual(tok.encode('ab ab'), [257, 258]);
    assert.equal(tok.bosId, 259);
    assert.equal(tok.addBos, false);
    assert.deepEqual(tok.eosIds, [259, 7]);
    assert.ok(tok.isSpecial(259), 'the eos named in tokenizer_config.json is special');
    assert.equal(tok.decode(tok.encode('ab ab<|endoftext|>')), 'ab ab<|endoftext|>');
  });

  test('GPT-2 pre-tokenizer splits words, contractions, numbers and whitespace runs', () => {
    assert.deepEqual(preTokenizer('gpt2').split("Hello world's  3 333!!"), ['Hello', ' world', "'s", ' ', ' 3', ' 333', '!!']);
  });

  test('errors name the file and the problem', () => {
    const isErr = (re: RegExp) => (e: unknown) => e instanceof TokenizerError && re.test(e.message);
    assert.throws(() => loadTokenizerFromDir(join(root, 'missing')), isErr(/missing: not a directory/));
    assert.throws(() => loadTokenizerFromDir(dir('empty', {})), isErr(/no tokenizer\.json, and no vocab\.json \+ merges\.txt/));
    assert.throws(() => loadTokenizerFromDir(dir('badjson', { 'tokenizer.json': '{oops' })), isErr(/tokenizer\.json: not valid JSON/));
    assert.throws(
      () => loadTokenizerFromDir(dir('badmerges', { 'vocab.json': '{"a":0}', 'merges.txt': 'a b c\n' })),
      isErr(/merges\.txt: line 1 is not "left right"/),
    );
    assert.throws(
      () =>
        loadTokenizerFromDir(
          dir('badclass', { 'vocab.json': '{"a":0}', 'merges.txt': '', 'tokenizer_config.json': '{"tokenizer_class":"BertTokenizer"}' }),
        ),
      isErr(/tokenizer_class "BertTokenizer"/),
    );
  });
});
