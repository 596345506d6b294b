// Random models of real shapes (scaled down) written as safetensors and as GGUF (f32, bf16, q8_0)
// and opened again: the config and every tensor must come back.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fromFloat32, toFloat32 } from '../../../src/kernels/dtype.js';
import { llama3RopeFactors, type ModelConfig } from '../../../src/model/config.js';
import { unpermuteFromInterleavedRope } from '../../../src/model/formats/gguf-convert.js';
import type { RawTensor } from '../../../src/model/formats/tensor.js';
import { openModelFiles } from '../../../src/model/model-files.js';
import { randomTensors, saveGgufModel, saveHfModel } from '../../../src/model/random-model.js';
import { ggufRowsToHf, scaledConfig, scratchDir } from './fixtures.js';

const SHAPES: [label: string, config: ModelConfig][] = [
  ['Qwen2.5-0.5B-Instruct', scaledConfig('Qwen2.5-0.5B-Instruct.json', { numLayers: 2, headDim: 16, intermediateSize: 256, vocabSize: 1024 })],
  ['TinyLlama-1.1B-Chat', scaledConfig('TinyLlama-1.1B-Chat-v1.0.json', { numLayers: 2, headDim: 8, intermediateSize: 352, vocabSize: 512 })],
  ['SmolLM2-135M', scaledConfig('SmolLM2-135M.json', { numLayers: 2, headDim: 32, intermediateSize: 384, vocabSize: 640 })],
  ['Llama-3.2-3B', scaledConfig('Llama-3.2-3B.json', { numLayers: 2, headDim: 16, intermediateSize: 512, vocabSize: 1024 })],
];

function headsOf(config: ModelConfig, name: string): number {
  if (config.architecture !== 'llama') return 0;
  return /q_proj\.(weight|bias)$/.test(name) ? config.numHeads : /k_proj\.(weight|bias)$/.test(name) ? config.numKvHeads : 0;
}

/** What a GGUF reader should report for a config written through saveGgufModel. */
function ggufConfigOf(config: ModelConfig): ModelConfig {
  const expected: ModelConfig = { ...config, ropeStyle: config.architecture === 'llama' ? 'interleaved' : 'neox' };
  if (config.ropeScaling?.type === 'llama3') {
    expected.ropeScaling = null;
    expected.ropeFreqFactors = llama3RopeFactors(config.ropeScaling, config.headDim, config.ropeTheta);
  }
  return expected;
}

for (const [label, config] of SHAPES) {
  describe(`round trip: ${label} shape (${config.architecture}, ${config.numHeads}/${config.numKvHeads} heads)`, () => {
    test('safetensors: config.json and every tensor come back unchanged', (t) => {
      const dir = path.join(scratchDir(t), 'hf');
      const tensors = randomTensors(config, { seed: 1, dtype: 'bf16' });
      saveHfModel(dir, config, tensors);
      const m = openModelFiles(dir);
      try {
        assert.equal(m.format, 'safetensors');
        assert.deepEqual(m.config, config);
        assert.equal(m.tensors.names().length, tensors.length);
        for (const want of tensors) assert.deepEqual(m.tensors.read(want.name), want, want.name);
      } finally {
        m.tensors.close();
      }
    });

    for (const dtype of ['f32', 'bf16'] as const) {
      test(`GGUF ${dtype}: config equal up to ropeStyle; q/k rows un-permute to the originals`, (t) => {
        const file = path.join(scratchDir(t), `m-${dtype}.gguf`);
        const tensors = randomTensors(config, { seed: 2, dtype });
        saveGgufModel(file, config, tensors);
        const m = openModelFiles(file);
        try {
          assert.equal(m.format, 'gguf');
          assert.deepEqual(m.config, ggufConfigOf(config));
          for (const want of tensors) {
            const got = m.tensors.read(want.name);
            assert.deepEqual({ ...got, data: null }, { ...want, data: null }, want.name);
            const heads = headsOf(config, want.name);
            if (heads) {
              assert.notDeepEqual(got.data, want.data, `${want.name} should be permuted in the file`);
              assert.deepEqual(ggufRowsToHf(got.data, got.shape[0]!, heads), want.data, want.name);
              assert.deepEqual(unpermuteFromInterleavedRope(got.data, got.shape, got.dtype, heads), want.data, want.name);
            } else {
              assert.deepEqual(got.data, want.data, want.name);
            }
          }
        } finally {
          m.tensors.close();
        }
      });
    }

    test('GGUF q8_0: 2-D weights quantized as GGML does, norms and biases kept f32', (t) => {
      const file = path.join(scratchDir(t), 'm-q8.gguf');
      const tensors = randomTensors(config, { seed: 3, dtype: 'f32' });
      saveGgufModel(file, config, tensors, { weightDtype: 'q8_0' });
      const m = openModelFiles(file);
      try {
        assert.deepEqual(m.config, ggufConfigOf(config));
        for (const want of tensors) {
          const got = m.tensors.read(want.name);
          const heads = headsOf(config, want.name);
          const data = heads ? ggufRowsToHf(got.data, got.shape[0]!, heads) : got.data;
          if (want.shape.length === 1) {
            assert.equal(got.dtype, 'f32', want.name);
            assert.deepEqual(data, want.data, want.name);
            continue;
          }
          assert.equal(got.dtype, 'q8_0', want.name);
          const count = want.data.byteLength / 4;
          assert.deepEqual(data, fromFloat32('q8_0', toFloat32('f32', want.data, count)), want.name);
          assertClose(toFloat32('q8_0', data, count), toFloat32('f32', want.data, count), want.name);
        }
      } finally {
        m.tensors.close();
      }
    });
  });
}

/** q8_0 error is at most half a step of a block's scale (amax / 127); values here are ~0.02. */
function assertClose(got: Float32Array, want: Float32Array, name: string): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst < 0.1 / 127, `${name}: max error ${worst}`);
}

test('random tensors are deterministic per seed and look like an initialised model', () => {
  const [, config] = SHAPES[0]!;
  const a = randomTensors(config, { seed: 7, dtype: 'f32' });
  const b = randomTensors(config, { seed: 7, dtype: 'f32' });
  const c = randomTensors(config, { seed: 8, dtype: 'f32' });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0]!.data, c[0]!.data);
  const stats = (t: RawTensor): [mean: number, std: number] => {
    const v = toFloat32('f32', t.data, t.data.byteLength / 4);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    return [mean, Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length)];
  };
  const [wMean, wStd] = stats(a.find((t) => t.name === 'model.embed_tokens.weight')!);
  assert.ok(Math.abs(wMean) < 0.002 && Math.abs(wStd - 0.02) < 0.002, `weights ${wMean} ± ${wStd}`);
  const [nMean] = stats(a.find((t) => t.name === 'model.norm.weight')!);
  assert.ok(Math.abs(nMean - 1) < 0.01, `norm mean ${nMean}`);
  assert.ok(a.some((t) => t.name === 'model.layers.1.self_attn.v_proj.bias'), 'qwen2 has biases');
  assert.ok(!a.some((t) => t.name === 'lm_head.weight'), 'tied: no lm_head');
});
