// Makes the quant-mix fixtures test/model/quant-mixes.test.ts checks Pensieve against: tiny
// random-weight models quantized by llama.cpp's own llama-quantize into each mix people
// download, and llama.cpp's logits on a fixed token sequence for each. CI does not run this (it
// needs a llama.cpp build); the outputs are committed. Rerun by hand:
//
//   node --import tsx bench/llama-cpp/make-quant-mixes.ts [LLAMA_CPP_DIR]   (default .pensieve/llama.cpp)
//
// It builds bench/llama-cpp/logits.cpp first (the build line is in its header).
//
// Models: llama-256 (hidden 256: every matrix is whole K-quant super-blocks) in all 12 mixes,
// and qwen2-320 (hidden 320: q/k/v/o/gate/up rows are not, so llama-quantize falls back to
// q5_0/q8_0/iq4_nl for them while ffn_down keeps its K-quant) in Q4_K_M and Q3_K_M. Weights are
// N(0, 0.06²) ≈ 1/√hidden rather than make-model's 0.02 so that the layers, not the embedding,
// shape the logits (a wrong layer matmul must show).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromHf } from '../../src/model/config.js';
import { elementCount } from '../../src/model/formats/tensor.js';
import { fitVocab, ggufTokenizerKeys, randomTensors, saveGgufModel } from '../../src/model/random-model.js';
import { compileLlamaTool, llamaCommit } from './tool.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const llamaDir = nodePath.resolve(process.argv[2] ?? nodePath.join(root, '.pensieve/llama.cpp'));
const bin = nodePath.join(llamaDir, 'build/bin');
const fixtures = nodePath.join(root, 'test/model/fixtures/quant-mixes');
const work = fs.mkdtempSync('/tmp/pensieve-quant-mixes-');

export const PROMPT = [1, 40, 77, 101, 200, 13, 99, 250];
const GENERATE = 8;
const SEED = 7;
const STD_SCALE = 3; // make-model's 0.02 → 0.06

const MODELS: Record<string, string[]> = {
  'llama-256': ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K_M', 'Q4_K_M', 'Q5_K_M', 'Q6_K', 'IQ4_NL', 'IQ4_XS'],
  'qwen2-320': ['Q4_K_M', 'Q3_K_M'],
};

const logitsBin = nodePath.join(work, 'llama-logits');
compileLlamaTool(llamaDir, 'logits.cpp', logitsBin);

const reference: Record<string, unknown> = {};
for (const [model, mixes] of Object.entries(MODELS)) {
  const configFile = nodePath.join(fixtures, `${model}.config.json`);
  const config = configFromHf(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
  const tensors = randomTensors(config, { seed: SEED, dtype: 'f32' }).map((t) => {
    if (t.name.endsWith('norm.weight')) return t;
    const v = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
    for (let i = 0; i < elementCount(t.shape); i++) v[i] = v[i]! * STD_SCALE;
    return { ...t, data: new Uint8Array(v.buffer) };
  });
  const source = nodePath.join(work, `${model}-f32.gguf`);
  const vocab = fitVocab(fileURLToPath(new URL('../../../shared/tokenizers/qwen2.5/', import.meta.url)), config.vocabSize);
  saveGgufModel(source, config, tensors, { tokenizerKeys: ggufTokenizerKeys(vocab) });
  for (const mix of mixes) {
    const name = `${model}-${mix}`;
    const file = nodePath.join(fixtures, `${name}.gguf`);
    execFileSync(nodePath.join(bin, 'llama-quantize'), [source, file, mix, '1'], { stdio: 'ignore' });
    const out = nodePath.join(work, `${name}.f32`);
    const generated = execFileSync(logitsBin, [file, out, String(GENERATE), ...PROMPT.map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim().split(' ').map(Number);
    reference[name] = { file: `${name}.gguf`, bytes: fs.statSync(file).size, generated, logits: fs.readFileSync(out).toString('base64') };
    process.stderr.write(`${name}: ${fs.statSync(file).size} bytes, generated ${generated.join(' ')}\n`);
  }
}

const commit = llamaCommit(llamaDir);
fs.writeFileSync(nodePath.join(fixtures, 'llama-cpp-logits.json'), JSON.stringify({
  generator: 'bench/llama-cpp/make-quant-mixes.ts',
  llamaCpp: commit,
  prompt: PROMPT,
  note: 'logits: [prompt.length + generated.length][vocab] f32 little-endian, base64; row t predicts token t+1 of prompt ++ generated',
  models: reference,
}, null, 1) + '\n');
fs.rmSync(work, { recursive: true });
