// GPT-2's byte-level BPE (OPT's tokenizer) against llama.cpp's test vectors for its GPT-2 vocab
// (../shared/tokenizers/gpt2/ggml-vocab-gpt-2.gguf.inp/.out). The vocab file itself is one of
// llama.cpp's (models/ggml-vocab-gpt-2.gguf), read from its checkout: LLAMA_CPP_DIR or
// .pensieve/llama.cpp; the test skips where there is none (CI).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/index.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { readVectors } from './vectors.js';

const llamaCpp = process.env.LLAMA_CPP_DIR ?? path.join(REPO_ROOT, '.pensieve', 'llama.cpp');
const vocab = path.join(llamaCpp, 'models', 'ggml-vocab-gpt-2.gguf');

test('GPT-2 BPE (OPT\'s tokenizer) encodes all of llama.cpp\'s GPT-2 vectors to their ids, and decodes them back', { skip: fs.existsSync(vocab) ? false : `no ${vocab}` }, () => {
  const tok = tokenizerFromGguf(readGguf(vocab).metadata, vocab);
  const vectors = readVectors('gpt2/ggml-vocab-gpt-2.gguf');
  assert.ok(vectors.length >= 40);
  for (const v of vectors) {
    assert.deepEqual(tok.encode(v.text), v.ids, JSON.stringify(v.text));
    assert.equal(tok.decode(v.ids), v.text);
  }
});
