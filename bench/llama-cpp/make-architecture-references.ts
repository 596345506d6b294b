// Makes the per-architecture reference fixtures test/model/architectures.test.ts checks Pensieve
// against: for each family, a tiny random-weight f32 model of a real config's head size and GQA
// ratio (test/model/fixtures/architectures/<family>.config.json), written as GGUF the way
// llama.cpp's converter does, and llama.cpp's logits on it for a fixed prompt and its 32 greedy
// tokens. Only the config, the logits and the GGUF's sha256 are committed: the test rebuilds
// the same bytes from the seed (randomTensors is deterministic), checks the hash, and compares.
// CI does not run this (it needs a llama.cpp build). Rerun by hand:
//
//   node --import tsx bench/llama-cpp/make-architecture-references.ts [LLAMA_CPP_DIR [FAMILY...]]
//
// LLAMA_CPP_DIR defaults to .pensieve/llama.cpp; FAMILY (qwen3, qwen3moe, mixtral, gemma2, gemma3,
// gemma3-4b, phi3, olmo2, smollm3, qwen3-yarn) to all of them.
//
// It builds bench/llama-cpp/logits.cpp first (the build line is in its header).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { architecture } from '../../src/model/architectures/index.js';
import { compileLlamaTool, llamaCommit } from './tool.js';
import { configFromHf } from '../../src/model/config.js';
import { fitVocab, ggufTokenizerKeys, randomTensors, saveGgufModel } from '../../src/model/random-model.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const llamaDir = nodePath.resolve(process.argv[2] ?? nodePath.join(root, '.pensieve/llama.cpp'));
const fixtures = nodePath.join(root, 'test/model/fixtures/architectures');
const vocabDir = nodePath.join(root, '../shared/tokenizers/qwen2.5');
const work = fs.mkdtempSync('/tmp/pensieve-arch-refs-');

/**
 * Families with a fixture config; the tokenizer comes from the qwen2.5 vocab, cut to the config's
 * vocab_size. Mixtral is a llama-arch GGUF with experts, as llama.cpp's converter writes it. A
 * fixture named family-variant is that family with another config (gemma3-4b: Gemma 3 4B's
 * shape; qwen3-yarn: YaRN scaling).
 */
const ALL_FAMILIES = ['qwen3', 'qwen3moe', 'mixtral', 'gemma2', 'gemma3', 'gemma3-4b', 'phi3', 'olmo2', 'smollm3', 'qwen3-yarn'];
const FAMILIES = process.argv.length > 3 ? process.argv.slice(3) : ALL_FAMILIES;
for (const f of FAMILIES) if (!ALL_FAMILIES.includes(f)) throw new Error(`unknown family ${f}; known: ${ALL_FAMILIES.join(', ')}`);
const PROMPT = [785, 3974, 13876, 38835, 916, 279, 15678, 5562];
const GENERATE = 32;
const SEED = 11;

const logitsBin = nodePath.join(work, 'llama-logits');
compileLlamaTool(llamaDir, 'logits.cpp', logitsBin);
const commit = llamaCommit(llamaDir);

for (const family of FAMILIES) {
  const configFile = nodePath.join(fixtures, `${family}.config.json`);
  const config = configFromHf(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
  const std = 1 / Math.sqrt(config.hiddenSize);
  // See RandomTensorOptions.embedStd: Gemma's √hidden-scaled tied embedding would otherwise win every step.
  const embedStd = architecture(config.architecture).scaleEmbedding ? std / 4 : std;
  const prompt = PROMPT.map((id) => id % config.vocabSize);
  const file = nodePath.join(work, `${family}.gguf`);
  const vocab = fitVocab(vocabDir, config.vocabSize);
  saveGgufModel(file, config, randomTensors(config, { seed: SEED, dtype: 'f32', std, embedStd }), { tokenizerKeys: ggufTokenizerKeys(vocab) });
  const out = nodePath.join(work, `${family}.f32`);
  const generated = execFileSync(logitsBin, [file, out, String(GENERATE), ...prompt.map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim().split(' ').map(Number);
  const logits = fs.readFileSync(out);
  fs.writeFileSync(nodePath.join(fixtures, `${family}.llama-cpp.json`), JSON.stringify({
    generator: 'bench/llama-cpp/make-architecture-references.ts',
    llamaCpp: commit,
    model: { seed: SEED, std, ...(embedStd !== std ? { embedStd } : {}), dtype: 'f32', vocab: 'qwen2.5', sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') },
    prompt,
    generated,
    note: 'logits: [prompt.length + generated.length][vocab] f32 little-endian, base64; row t predicts token t+1 of prompt ++ generated',
    logits: logits.toString('base64'),
  }, null, 1) + '\n');
  process.stderr.write(`${family}: ${fs.statSync(file).size}-byte GGUF, generated ${generated.join(' ')}\n`);
}
fs.rmSync(work, { recursive: true });
