// Byte-level BPE against llama.cpp's Qwen2 and Llama 3 ("llama-bpe") test vectors, through the
// slow Hugging Face files (vocab.json + merges.txt) and through GGUF-style metadata.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/gguf.js';
import { loadTokenizerFromDir } from '../../../src/model/tokenizer/index.js';
import type { Tokenizer } from '../../../src/model/tokenizer/types.js';
import { readVectors, TOKENIZERS } from './vectors.js';

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(TOKENIZERS + path, 'utf8')) as Record<string, unknown>;
}

function mergeLines(path: string): string[] {
  return readFileSync(TOKENIZERS + path, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#version'));
}

/** GGUF metadata as llama.cpp's converter writes it: model vocab as normal tokens, specials as control. */
function bpeGguf(vocab: Record<string, unknown>, specials: Map<number, string>, merges: string[], extra: [string, unknown][]) {
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [piece, id] of Object.entries(vocab)) {
    tokens[id as number] = piece;
    types[id as number] = 1;
  }
  for (const [id, content] of specials) {
    tokens[id] = content;
    types[id] = 3;
  }
  return new Map<string, unknown>([
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.merges', merges],
    ...extra,
  ]);
}

const qwenVocab = readJson('qwen2.5/vocab.json');
const qwenMerges = mergeLines('qwen2.5/merges.txt');
const qwenAdded = new Map(Object.entries(readJson('qwen2.5/added_tokens.json')).map(([content, id]) => [id as number, content]));
const qwenSlow = loadTokenizerFromDir(TOKENIZERS + 'qwen2.5');
const qwenGguf = tokenizerFromGguf(
  bpeGguf(qwenVocab, qwenAdded, qwenMerges, [
    ['tokenizer.ggml.pre', 'qwen2'],
    ['tokenizer.ggml.bos_token_id', 151643],
    ['tokenizer.ggml.eos_token_id', 151645],
    ['tokenizer.ggml.add_bos_token', false],
  ]),
  'qwen2.5-test.gguf',
);

const llama3Config = readJson('chat_templates/meta-llama_Meta-Llama-3.1-8B-Instruct.tokenizer_config.json');
const llama3Specials = new Map(
  Object.entries(llama3Config.added_tokens_decoder as Record<string, { content: string }>).map(([id, t]) => [Number(id), t.content]),
);
const llama3 = tokenizerFromGguf(
  bpeGguf(readJson('llama3.2/encoder.json'), llama3Specials, mergeLines('llama3.2/vocab.bpe'), [
    ['tokenizer.ggml.pre', 'llama-bpe'],
    ['tokenizer.ggml.bos_token_id', 128000n],
    ['tokenizer.ggml.eos_token_id', 128001n],
    ['tokenizer.ggml.eot_token_id', 128009n],
  ]),
  'llama3.2-test.gguf',
);

const suites: [string, Tokenizer, string][] = [
  ['Qwen2.5 from vocab.json + merges.txt', qwenSlow, 'qwen2.5/llamacpp-test-vectors.qwen2'],
  ['Qwen2.5 from GGUF metadata (pre "qwen2")', qwenGguf, 'qwen2.5/llamacpp-test-vectors.qwen2'],
  ['Llama 3 from GGUF metadata (pre "llama-bpe")', llama3, 'llama3.2/llamacpp-test-vectors.llama-bpe'],
];

for (const [name, tok, base] of suites) {
  describe(name, () => {
    const vectors = readVectors(base);
    test('matches all 46 llama.cpp test vectors', () => {
      assert.equal(vectors.length, 46);
      for (const v of vectors) {
        assert.deepEqual(tok.encode(v.text, { addBos: false, parseSpecial: false }), v.ids, JSON.stringify(v.text));
      }
    });

    test('decode(encode(text)) gives the text back', () => {
      for (const v of vectors) assert.equal(tok.decode(tok.encode(v.text, { addBos: false })), v.text);
    });
  });
}

describe('byte-level BPE special tokens', () => {
  for (const tok of [qwenSlow, qwenGguf]) {
    test('ChatML markers in text become their ids; not when parsing is off', () => {
      const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
      assert.deepEqual(ids, [151644, tok.tokenId('user'), tok.tokenId('Ċ'), tok.tokenId('hi'), 151645]);
      assert.equal(tok.decode(ids), '<|im_start|>user\nhi<|im_end|>');
      assert.equal(tok.decode(ids, { skipSpecial: true }), 'user\nhi');
      const literal = tok.encode('<|im_end|>', { parseSpecial: false });
      assert.ok(literal.length > 1 && !literal.includes(151645), `got ${literal}`);
      assert.equal(tok.decode(literal), '<|im_end|>');
      assert.ok(tok.isSpecial(151645) && !tok.isSpecial(tok.tokenId('hi')!));
    });
  }

  test('Qwen2.5 settings: no BOS added; generation stops on <|im_end|> and <|endoftext|>', () => {
    for (const tok of [qwenSlow, qwenGguf]) {
      assert.equal(tok.addBos, false);
      assert.equal(tok.bosId, 151643);
      assert.deepEqual([...tok.eosIds].sort(), [151643, 151645]);
      assert.equal(tok.vocabSize, 151665);
      assert.equal(tok.tokenId('<|im_start|>'), 151644);
    }
  });

  test('Llama 3 settings: BOS added, stops on end_of_text, eot and eom', () => {
    assert.equal(llama3.addBos, true);
    assert.equal(llama3.bosId, 128000);
    assert.deepEqual([...llama3.eosIds].sort(), [128001, 128008, 128009]);
    assert.deepEqual(llama3.encode('Hello'), [128000, 9906]);
    assert.equal(llama3.vocabSize, 128256);
  });

  test('ids past the tokenizer (padded embedding rows) decode to nothing', () => {
    assert.equal(qwenSlow.decode([151900, 9707]), qwenSlow.decode([9707]));
  });
});
