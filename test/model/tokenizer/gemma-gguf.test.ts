// A Gemma-style SentencePiece GGUF vocab (tokenizer.ggml.model "llama", add_space_prefix false,
// add_bos_token true, as llama.cpp's Gemma converters write it) read back by our GGUF reader must
// tokenize as llama.cpp does. We have no Gemma tokenizer offline, so the pieces are Llama 2's
// (../shared/tokenizers/llama2/tokenizer.bin); the rules under test are the file's. The ids come
// from llama.cpp itself: bench/llama-cpp/make-tokenizer-references.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { writeGguf } from '../../../src/model/formats/gguf-writer.js';
import { spmTokenizerKeys } from '../../../src/model/random-model.js';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/gguf.js';
import { SHARED } from './vectors.js';

const ref = JSON.parse(fs.readFileSync(new URL('../fixtures/gemma-spm-tokens.llama-cpp.json', import.meta.url), 'utf8')) as {
  llamaCpp: string;
  cases: { text: string; ids: number[] }[];
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-gemma-tok-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('a Gemma-style SentencePiece GGUF vocab (no dummy prefix, BOS added)', () => {
  const file = path.join(work, 'vocab.gguf');
  writeGguf(file, spmTokenizerKeys(path.join(SHARED, 'tokenizers/llama2/tokenizer.bin'), 32000, { addSpacePrefix: false }), []);
  const gguf = readGguf(file);
  const tok = tokenizerFromGguf(gguf.metadata, file);
  gguf.tensors.close();

  for (const { text, ids } of ref.cases) {
    it(`tokenizes ${JSON.stringify(text)} as llama.cpp ${ref.llamaCpp.slice(0, 10)} does`, () => {
      assert.deepEqual(tok.encode(text), ids);
      if (!/<\/?s>/.test(text)) assert.equal(tok.decode(ids, { skipSpecial: true }), text);
    });
  }

  it('adds no space before the first word, unlike Llama 2 (add_space_prefix true)', () => {
    const llama = path.join(work, 'llama.gguf');
    writeGguf(llama, spmTokenizerKeys(path.join(SHARED, 'tokenizers/llama2/tokenizer.bin'), 32000, { addSpacePrefix: true }), []);
    const other = readGguf(llama);
    const withPrefix = tokenizerFromGguf(other.metadata, llama);
    other.tensors.close();
    assert.deepEqual(tok.encode('Hello'), [1, 10994]);
    assert.deepEqual(withPrefix.encode('Hello'), [1, 15043]);
  });
});
