// Makes test/model/fixtures/pretokenizer-tokens.llama-cpp.json: llama.cpp's tokenization of texts
// that tell pre-tokenizers apart (cased words, contractions, digit runs, paths, non-ASCII letters
// and whitespace), once per GGUF `tokenizer.ggml.pre` name. The vocabulary is always Llama 3's
// byte-level BPE (../shared/tokenizers/llama3.2: we have no Tekken, o200k or SmolLM vocab offline);
// only the pre name changes, so every difference between the cases is the pre-tokenizer's.
// test/model/tokenizer/pretokenizers.test.ts compares Pensieve's GGUF tokenizer with it.
// CI does not run this (it needs a llama.cpp build). Rerun by hand:
//
//   node --import tsx bench/llama-cpp/make-pretokenizer-references.ts [LLAMA_CPP_DIR]   (default .pensieve/llama.cpp)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileLlamaTool, llamaCommit } from './tool.js';
import { configFromHf } from '../../src/model/config.js';
import { ggufTokenizerKeys, randomTensors, saveGgufModel } from '../../src/model/random-model.js';
import { llama3Vocab, PRE_NAMES, PRE_TEXTS } from '../../test/model/tokenizer/pretokenizer-cases.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const llamaDir = nodePath.resolve(process.argv[2] ?? nodePath.join(root, '.pensieve/llama.cpp'));
const work = fs.mkdtempSync('/tmp/pensieve-pretok-refs-');

const exe = nodePath.join(work, 'llama-tokens');
compileLlamaTool(llamaDir, 'tokenize.cpp', exe);
const commit = llamaCommit(llamaDir);

const vocab = llama3Vocab(nodePath.join(root, '../shared/tokenizers'));
const config = configFromHf({
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 64, intermediate_size: 64, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 1e6,
  tie_word_embeddings: true, vocab_size: vocab.tokens.length, eos_token_id: vocab.tokens.length - 1,
}, 'llama3-vocab-config');
const tensors = randomTensors(config, { seed: 1, dtype: 'f32' });

const byPre: Record<string, number[][]> = {};
for (const pre of PRE_NAMES) {
  const keys = new Map(ggufTokenizerKeys(vocab));
  keys.set('tokenizer.ggml.pre', { type: 'string', value: pre });
  const file = nodePath.join(work, `${pre}.gguf`);
  saveGgufModel(file, config, tensors, { tokenizerKeys: keys });
  const out = execFileSync(exe, [file], { input: PRE_TEXTS.join('\0'), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  byPre[pre] = out.replace(/\n$/, '').split('\n').map((line) => (line === '' ? [] : line.split(' ').map(Number)));
  fs.rmSync(file);
  process.stderr.write(`${pre}: ${byPre[pre]!.map((ids) => ids.length).join(' ')}\n`);
}
fs.writeFileSync(nodePath.join(root, 'test/model/fixtures/pretokenizer-tokens.llama-cpp.json'), JSON.stringify({
  generator: 'bench/llama-cpp/make-pretokenizer-references.ts',
  llamaCpp: commit,
  vocab: 'llama3.2 (../shared/tokenizers/llama3.2: encoder.json + vocab.bpe, no special tokens) as a GGUF, add_bos_token false; tokenizer.ggml.pre varied',
  texts: PRE_TEXTS,
  ids: byPre,
}) + '\n');
fs.rmSync(work, { recursive: true });
