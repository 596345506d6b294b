// Each architecture against llama.cpp on the same file: a tiny random-weight f32 model of a real
// config's head size and GQA ratio, rebuilt here byte for byte from its seed (the sha256 says it
// is the file llama.cpp ran), as GGUF and as the HF safetensors of the same weights. Logits of
// the prompt and of llama.cpp's 32 greedy tokens must agree to 1e-4 of the largest logit, and
// Pensieve's own greedy decode, one token a step, must pick the same 32 tokens. The reference
// comes from bench/llama-cpp/make-architecture-references.ts; CI needs no llama.cpp.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { configFromHf } from '../../src/model/config.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { fitVocab, ggufTokenizerKeys, randomTensors, saveGgufModel, saveHfModel } from '../../src/model/random-model.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';
import { SHARED } from '../helpers/paths.js';

const MAX_REL_ERROR = 1e-4;
const dir = new URL('./fixtures/architectures/', import.meta.url);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-arch-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Reference {
  llamaCpp: string;
  model: { seed: number; std: number; dtype: 'f32'; vocab: string; sha256: string };
  prompt: number[];
  generated: number[];
  logits: string;
}

function runner(modelPath: string): { runner: ModelRunner; vocab: number; arch: string } {
  const files = openModelFiles(modelPath);
  assert.deepEqual(files.warnings, []);
  const weights = loadWeights(files.config, files.tensors, nativeKernels);
  files.tensors.close();
  const r = new ModelRunner(new Transformer(files.config, weights, nativeKernels), new KvCache(files.config, 4, 16, 'f32'));
  return { runner: r, vocab: files.config.vocabSize, arch: files.config.architecture };
}

const TABLE = [2, 0, 3, 1];

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** max |a-b| / max |b|: the error relative to the logits' scale. */
function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

const families = fs.readdirSync(dir).filter((f) => f.endsWith('.llama-cpp.json')).map((f) => f.slice(0, -'.llama-cpp.json'.length));

for (const family of families) {
  describe(`${family} against llama.cpp`, () => {
    const ref = JSON.parse(fs.readFileSync(new URL(`${family}.llama-cpp.json`, dir), 'utf8')) as Reference;
    const configFile = new URL(`${family}.config.json`, dir).pathname;
    const config = configFromHf(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
    const tensors = randomTensors(config, { seed: ref.model.seed, dtype: ref.model.dtype, std: ref.model.std });
    const gguf = path.join(work, `${family}.gguf`);
    saveGgufModel(gguf, config, tensors, { tokenizerKeys: ggufTokenizerKeys(fitVocab(path.join(SHARED, 'tokenizers', ref.model.vocab), config.vocabSize)) });
    const hf = path.join(work, `${family}-hf`);
    saveHfModel(hf, config, tensors);
    const want = new Float32Array(Buffer.from(ref.logits, 'base64').buffer.slice(0));

    it('the GGUF rebuilt from the seed is the file llama.cpp ran', () => {
      assert.equal(createHash('sha256').update(fs.readFileSync(gguf)).digest('hex'), ref.model.sha256,
        'randomTensors or the GGUF writer changed: rerun bench/llama-cpp/make-architecture-references.ts');
    });

    for (const [form, modelPath] of [['GGUF', gguf], ['safetensors', hf]] as const) {
      it(`${form}: logits within ${MAX_REL_ERROR} of llama.cpp's; greedy ${ref.generated.length} tokens equal`, (t) => {
        const { runner: all, vocab, arch } = runner(modelPath);
        assert.equal(arch, family.split('-')[0]); // qwen3-yarn: a qwen3 with YaRN scaling
        const tokens = [...ref.prompt, ...ref.generated];
        const [logits] = all.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: TABLE, contextLen: tokens.length, logits: 'all' }]);
        assert.equal(logits!.length, want.length);
        const err = relError(logits!, want);

        // Decode as generation does: the prompt, then one token a step.
        const { runner: step } = runner(modelPath);
        const p = ref.prompt;
        let next = argmax(step.step([{ tokens: p, positions: p.map((_, i) => i), blockTable: TABLE, contextLen: p.length, logits: 'last' }])[0]!);
        const generated = [next];
        for (let pos = p.length; generated.length < ref.generated.length; pos++) {
          next = argmax(step.step([{ tokens: [next], positions: [pos], blockTable: TABLE, contextLen: pos + 1, logits: 'last' }])[0]!);
          generated.push(next);
        }
        t.diagnostic(`${family} ${form}: relative error ${err.toExponential(2)} over ${tokens.length}×${vocab} logits; llama.cpp ${ref.llamaCpp.slice(0, 10)}`);
        assert.ok(err < MAX_REL_ERROR, `relative error ${err}`);
        assert.deepEqual(generated, ref.generated);
      });
    }
  });
}
