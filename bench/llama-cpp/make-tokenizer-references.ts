// Makes test/model/fixtures/gemma-spm-tokens.llama-cpp.json: llama.cpp's tokenization of a few
// texts with a Gemma-style SentencePiece GGUF vocab (tokenizer.ggml.model "llama",
// add_space_prefix false, add_bos_token true; the Llama 2 pieces, as we have no Gemma tokenizer
// offline), which test/model/tokenizer/gemma-gguf.test.ts compares Pensieve's GGUF tokenizer with.
// CI does not run this (it needs a llama.cpp build). Rerun by hand:
//
//   node --import tsx bench/llama-cpp/make-tokenizer-references.ts [LLAMA_CPP_DIR]   (default .pensieve/llama.cpp)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileLlamaTool, llamaCommit } from './tool.js';
import { configFromHf } from '../../src/model/config.js';
import { randomTensors, saveGgufModel, spmTokenizerKeys } from '../../src/model/random-model.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const llamaDir = nodePath.resolve(process.argv[2] ?? nodePath.join(root, '.pensieve/llama.cpp'));
const work = fs.mkdtempSync('/tmp/pensieve-tok-refs-');

/** Texts that exercise the no-dummy-prefix rule, whitespace runs, byte fallback and special-token text. */
export const TEXTS = [
  'Hello world',
  ' Hello world',
  '  two leading spaces',
  'Hello\n\nworld\n',
  'tabs\tand   runs of    spaces',
  'naïve café — 日本語 🦙',
  '<s>Hello</s> world',
  'Hello<s>world',
  '<start_of_turn>user\nHi<end_of_turn>',
  'x',
];

const exe = nodePath.join(work, 'llama-tokens');
compileLlamaTool(llamaDir, 'tokenize.cpp', exe);
const commit = llamaCommit(llamaDir);

const configFile = nodePath.join(root, 'test/model/fixtures/architectures/gemma2.config.json');
const json = { ...JSON.parse(fs.readFileSync(configFile, 'utf8')), vocab_size: 32000, hidden_size: 64, intermediate_size: 64, head_dim: 32, query_pre_attn_scalar: 32, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 2, bos_token_id: 1, eos_token_id: 2 };
const config = configFromHf(json, configFile);
const file = nodePath.join(work, 'gemma-spm.gguf');
const tokenizerBin = nodePath.join(root, '../shared/tokenizers/llama2/tokenizer.bin');
saveGgufModel(file, config, randomTensors(config, { seed: 1, dtype: 'f32' }), { tokenizerKeys: spmTokenizerKeys(tokenizerBin, 32000, { addSpacePrefix: false }) });
const out = execFileSync(exe, [file], { input: TEXTS.join('\0'), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'] });
const ids = out.trim().split('\n').map((line) => line.split(' ').map(Number));
fs.writeFileSync(nodePath.join(root, 'test/model/fixtures/gemma-spm-tokens.llama-cpp.json'), JSON.stringify({
  generator: 'bench/llama-cpp/make-tokenizer-references.ts',
  llamaCpp: commit,
  vocab: 'llama2/tokenizer.bin, as a gemma2 GGUF with add_space_prefix false and add_bos_token true',
  cases: TEXTS.map((text, i) => ({ text, ids: ids[i] })),
}, null, 1) + '\n');
fs.rmSync(work, { recursive: true });
process.stderr.write(ids.map((t, i) => `${JSON.stringify(TEXTS[i])}: ${t.join(' ')}`).join('\n') + '\n');
