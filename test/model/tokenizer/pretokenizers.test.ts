// Every GGUF pre-tokenizer Pensieve reads cuts text as llama.cpp does. The vocabulary is always
// Llama 3's (../shared/tokenizers/llama3.2) and only `tokenizer.ggml.pre` changes, so the cases
// differ by the pre-tokenizer alone; the ids are llama.cpp's own
// (bench/llama-cpp/make-pretokenizer-references.ts, committed so CI needs no llama.cpp build).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { writeGguf } from '../../../src/model/formats/gguf-writer.js';
import { ggufTokenizerKeys } from '../../../src/model/random-model.js';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/gguf.js';
import { preTokenizer } from '../../../src/model/tokenizer/pretokenize.js';
import { llama3Vocab, PRE_NAMES, PRE_TEXTS } from './pretokenizer-cases.js';
import { TOKENIZERS } from './vectors.js';

const ref = JSON.parse(fs.readFileSync(new URL('../fixtures/pretokenizer-tokens.llama-cpp.json', import.meta.url), 'utf8')) as {
  llamaCpp: string;
  texts: string[];
  ids: Record<string, number[][]>;
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-pretok-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const vocab = llama3Vocab(TOKENIZERS);

function tokenizerWithPre(pre: string) {
  const keys = new Map(ggufTokenizerKeys(vocab));
  keys.set('tokenizer.ggml.pre', { type: 'string', value: pre });
  const file = path.join(work, `${pre}.gguf`);
  writeGguf(file, keys, []);
  const gguf = readGguf(file);
  try {
    return tokenizerFromGguf(gguf.metadata, file);
  } finally {
    gguf.tensors.close();
  }
}

it('the committed references are for the texts and names the test knows', () => {
  assert.deepEqual(ref.texts, PRE_TEXTS);
  assert.deepEqual(Object.keys(ref.ids).sort(), [...PRE_NAMES].sort());
});

for (const pre of PRE_NAMES) {
  describe(`tokenizer.ggml.pre = "${pre}"`, () => {
    const tok = tokenizerWithPre(pre);
    PRE_TEXTS.forEach((text, i) => {
      it(`tokenizes ${JSON.stringify(text).slice(0, 48)} as llama.cpp ${ref.llamaCpp.slice(0, 10)} does`, () => {
        assert.deepEqual(tok.encode(text), ref.ids[pre]![i]);
      });
    });
  });
}

it('the references tell the flavours apart (the cases are not all tokenized alike)', () => {
  const distinct = new Set(Object.values(ref.ids).map((ids) => JSON.stringify(ids)));
  // aliases share a flavour: gpt-4o/llama4, qwen2/deepseek-r1-qwen, smollm/starcoder
  assert.equal(distinct.size, PRE_NAMES.length - 3);
});

it('cuts cased words as tiktoken does for Tekken and GPT-4o, and digits by flavour', () => {
  assert.deepEqual(preTokenizer('gpt4o').split('CamelCase XMLHttp'), ['Camel', 'Case', ' XMLHttp']);
  assert.deepEqual(preTokenizer('tekken').split('a1234'), ['a', '1', '2', '3', '4']);
  assert.deepEqual(preTokenizer('gpt4o').split('a1234'), ['a', '123', '4']);
  assert.deepEqual(preTokenizer('starcoder').split('x 12'), ['x', ' ', '1', '2']);
  assert.deepEqual(preTokenizer('default').split('a+=1234'), ['a', '+=', '123', '4']);
});

it('refuses a pre-tokenizer it does not implement, by name', () => {
  assert.throws(() => tokenizerWithPre('kimi-k2'), /pre-tokenizer .*"kimi-k2" is not supported/);
});
