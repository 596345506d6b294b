// Each architecture against llama.cpp on the same file: a tiny random-weight f32 model of a real
// config's head size and GQA ratio, rebuilt here byte for byte from its seed (the sha256 says it
// is the file llama.cpp ran), as GGUF and as the HF safetensors of the same weights. Logits of
// the prompt and of llama.cpp's 32 greedy tokens must agree to 1e-4 of the largest logit, and
// Pensieve's own greedy decode, one token a step, must pick the same 32 tokens. The reference
// comes from bench/llama-cpp/make-architecture-references.ts; CI needs no llama.cpp.
//
// GeGLU models (Gemma) are held to 1e-3: llama.cpp's CPU GEGLU rounds its input to f16 and reads
// GELU from an f16 table (GGML_GELU_FP16, hard-defined in ggml-cpu/vec.h), about 2^-11 relative
// error an element, where Pensieve (like transformers) computes tanh-GELU in f32. That costs
// ≈4e-4 of the logits' scale here; a last test shows that emulating the table removes most of it
// (what is left comes from inputs a hair apart rounding to different f16 values).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { f16ToF32, f32ToF16 } from '../../src/kernels/f16.js';
import type { Kernels } from '../../src/kernels/types.js';
import { architecture } from '../../src/model/architectures/index.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { configFromHf } from '../../src/model/config.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { fitVocab, ggufTokenizerKeys, randomTensors, saveGgufModel, saveHfModel } from '../../src/model/random-model.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';
import { SHARED } from '../helpers/paths.js';

const MAX_REL_ERROR = 1e-4;
const MAX_REL_ERROR_GEGLU = 1e-3;
const dir = new URL('./fixtures/architectures/', import.meta.url);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-arch-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Reference {
  llamaCpp: string;
  model: { seed: number; std: number; embedStd?: number; dtype: 'f32'; vocab: string; sha256: string };
  prompt: number[];
  generated: number[];
  logits: string;
}

function runner(modelPath: string, kernels: Kernels = nativeKernels): { runner: ModelRunner; vocab: number; arch: string } {
  const files = openModelFiles(modelPath);
  assert.deepEqual(files.warnings, []);
  const weights = loadWeights(files.config, files.tensors, kernels);
  files.tensors.close();
  const r = new ModelRunner(new Transformer(files.config, weights, kernels), new KvCache(files.config, 4, 16, 'f32'));
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

/** The native kernels with llama.cpp's CPU GEGLU: gelu(f16(x)) from an f16 table, 0 below -10, x above 10. */
const f16TableGelu: Kernels = {
  ...nativeKernels,
  geluTanhMul(gate, up, out) {
    const gelu = (x: number) => Math.fround(0.5 * x * (1 + Math.tanh(Math.fround(0.7978845608028654 * x * Math.fround(1 + Math.fround(0.044715 * x * x))))));
    for (let i = 0; i < gate.length; i++) {
      const x = gate[i]!;
      out[i] = (x <= -10 ? 0 : x >= 10 ? x : f16ToF32(f32ToF16(gelu(f16ToF32(f32ToF16(x)))))) * up[i]!;
    }
  },
};

const families = fs.readdirSync(dir).filter((f) => f.endsWith('.llama-cpp.json')).map((f) => f.slice(0, -'.llama-cpp.json'.length));

for (const family of families) {
  describe(`${family} against llama.cpp`, () => {
    const ref = JSON.parse(fs.readFileSync(new URL(`${family}.llama-cpp.json`, dir), 'utf8')) as Reference;
    const configFile = new URL(`${family}.config.json`, dir).pathname;
    const config = configFromHf(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
    const tensors = randomTensors(config, { seed: ref.model.seed, dtype: ref.model.dtype, std: ref.model.std, embedStd: ref.model.embedStd });
    const gguf = path.join(work, `${family}.gguf`);
    saveGgufModel(gguf, config, tensors, { tokenizerKeys: ggufTokenizerKeys(fitVocab(path.join(SHARED, 'tokenizers', ref.model.vocab), config.vocabSize)) });
    const hf = path.join(work, `${family}-hf`);
    saveHfModel(hf, config, tensors);
    const want = new Float32Array(Buffer.from(ref.logits, 'base64').buffer.slice(0));
    const geglu = architecture(config.architecture).ffnActivation === 'gelu_tanh';
    const maxError = geglu ? MAX_REL_ERROR_GEGLU : MAX_REL_ERROR;
    const allLogits = (kernels?: Kernels) => {
      const tokens = [...ref.prompt, ...ref.generated];
      return runner(gguf, kernels).runner.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: TABLE, contextLen: tokens.length, logits: 'all' }])[0]!;
    };

    it('the GGUF rebuilt from the seed is the file llama.cpp ran', () => {
      assert.equal(createHash('sha256').update(fs.readFileSync(gguf)).digest('hex'), ref.model.sha256,
        'randomTensors or the GGUF writer changed: rerun bench/llama-cpp/make-architecture-references.ts');
    });

    for (const [form, modelPath] of [['GGUF', gguf], ['safetensors', hf]] as const) {
      it(`${form}: logits within ${maxError} of llama.cpp's; greedy ${ref.generated.length} tokens equal`, (t) => {
        const { runner: all, vocab, arch } = runner(modelPath);
        assert.equal(arch, config.architecture); // qwen3-yarn: a qwen3 with YaRN scaling; gemma3-4b: a gemma3
        const tokens = [...ref.prompt, ...ref.generated];
        const [logits] = all.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: TABLE, contextLen: tokens.length, logits: 'all' }]);
        assert.equal(logits!.length, want.length);
        const err = relError(logits!, want);

        // Decode as generation does: the prompt, then one token a step (decode attention, and
        // for windowed layers a window that slides past the prompt); each step's logits are
        // checked against llama.cpp's row for that position too.
        const { runner: step } = runner(modelPath);
        const p = ref.prompt;
        const row = (pos: number) => want.subarray(pos * vocab, (pos + 1) * vocab);
        const first = step.step([{ tokens: p, positions: p.map((_, i) => i), blockTable: TABLE, contextLen: p.length, logits: 'last' }])[0]!;
        let decodeErr = relError(first, row(p.length - 1));
        let next = argmax(first);
        const generated = [next];
        for (let pos = p.length; generated.length < ref.generated.length; pos++) {
          const logits = step.step([{ tokens: [next], positions: [pos], blockTable: TABLE, contextLen: pos + 1, logits: 'last' }])[0]!;
          decodeErr = Math.max(decodeErr, relError(logits, row(pos)));
          next = argmax(logits);
          generated.push(next);
        }
        t.diagnostic(`${family} ${form}: relative error ${err.toExponential(2)} over ${tokens.length}×${vocab} logits, `
          + `${decodeErr.toExponential(2)} decoding one token a step; llama.cpp ${ref.llamaCpp.slice(0, 10)}`);
        assert.ok(err < maxError, `relative error ${err}`);
        assert.ok(decodeErr < maxError, `relative error ${decodeErr} decoding one token a step`);
        assert.deepEqual(generated, ref.generated);
      });
    }

    if (geglu) {
      it('most of the gap to llama.cpp is its f16 GELU table: emulating it more than halves the error, to < 3e-4', (t) => {
        const exact = relError(allLogits(), want), table = relError(allLogits(f16TableGelu), want);
        t.diagnostic(`${family}: relative error ${exact.toExponential(2)} with f32 GELU, ${table.toExponential(2)} with llama.cpp's f16 table`);
        assert.ok(table < exact / 2 && table < 3e-4, `${table} vs ${exact}`);
      });
    }
  });
}
