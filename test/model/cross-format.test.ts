// Random-weight models of real config shapes (fewer layers, smaller vocab and
// FFN; real hidden size, heads and head size), written by the test as Hugging
// Face safetensors and as GGUF the way llama.cpp's converter writes them (Q/K
// rows permuted for llama), must give the same logits: this checks both rotary
// conventions, the name mappings and the dtype paths end to end.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { configFromHf, type ModelConfig } from '../../src/model/config.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { randomTensors, saveGgufModel, saveHfModel } from '../../src/model/random-model.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights, type WeightFormat } from '../../src/model/weights.js';
import { MODELS } from '../helpers/paths.js';

function shrunk(file: string): ModelConfig {
  const p = path.join(MODELS, 'configs', file);
  const real = configFromHf(JSON.parse(fs.readFileSync(p, 'utf8')), p);
  return { ...real, numLayers: 2, intermediateSize: 1024, vocabSize: 2048, bosTokenId: 1, eosTokenIds: [2] };
}

function logitsOf(modelPath: string, format: WeightFormat, tokens: number[]): { logits: Float32Array; config: ModelConfig } {
  const files = openModelFiles(modelPath);
  const weights = loadWeights(files.config, files.tensors, nativeKernels, { format });
  files.tensors.close();
  const runner = new ModelRunner(new Transformer(files.config, weights, nativeKernels), new KvCache(files.config, 8));
  const positions = tokens.map((_, i) => i);
  const [logits] = runner.step([{ tokens, positions, blockTable: [3, 0, 5, 1, 7, 2, 6, 4], contextLen: tokens.length, logits: 'all' }]);
  return { logits: logits!, config: files.config };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

const cases: [string, 'llama' | 'qwen2' | 'qwen3'][] = [
  ['Qwen2.5-0.5B-Instruct.json', 'qwen2'],
  // head_dim 128 beside hidden 2560 / 32 heads, and per-head q/k norms.
  ['Qwen3-4B.json', 'qwen3'],
  ['SmolLM2-135M.json', 'llama'],
  ['Llama-3.2-3B.json', 'llama'],
];

for (const [file, arch] of cases) {
  test(`${file} (${arch}) as safetensors and as GGUF gives the same logits`, (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-xformat-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const config = shrunk(file);
    const tensors = randomTensors(config, { seed: 5, dtype: 'f32' });
    saveHfModel(path.join(dir, 'hf'), config, tensors);
    saveGgufModel(path.join(dir, 'model.gguf'), config, tensors);
    saveGgufModel(path.join(dir, 'model-q8_0.gguf'), config, tensors, { weightDtype: 'q8_0' });
    const tokens = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % config.vocabSize);

    const hf = logitsOf(path.join(dir, 'hf'), 'auto', tokens);
    const gguf = logitsOf(path.join(dir, 'model.gguf'), 'auto', tokens);
    assert.equal(hf.config.ropeStyle, 'neox');
    assert.equal(gguf.config.architecture, arch);
    assert.equal(gguf.config.ropeStyle, arch === 'llama' ? 'interleaved' : 'neox');
    assert.ok(maxRelDiff(gguf.logits, hf.logits) < 1e-5, `f32: ${maxRelDiff(gguf.logits, hf.logits)}`);

    // q8_0 quantizes along rows, so permuting rows commutes with it: the q8_0 GGUF
    // and the f32 safetensors packed to q8_0 hold the same weights. Activations are
    // quantized too, though, and the two rotary layouts round differently in the last
    // f32 bit, which can flip an activation's int8 rounding: identical without a
    // permutation (qwen2), within a fraction of a percent with one (llama).
    const q8File = logitsOf(path.join(dir, 'model-q8_0.gguf'), 'auto', tokens);
    const q8Packed = logitsOf(path.join(dir, 'hf'), 'q8_0', tokens);
    const q8Tolerance = arch === 'llama' ? 0.02 : 1e-6;
    assert.ok(maxRelDiff(q8File.logits, q8Packed.logits) < q8Tolerance, `q8_0: ${maxRelDiff(q8File.logits, q8Packed.logits)}`);
    // ...and stay close to the f32 model.
    assert.ok(maxRelDiff(q8File.logits, hf.logits) < 0.05, `q8_0 vs f32: ${maxRelDiff(q8File.logits, hf.logits)}`);
  });
}
