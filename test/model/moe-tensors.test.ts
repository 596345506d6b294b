// Mixture-of-experts models on disk: HF checkpoints hold one tensor per expert, GGUF one 3-D
// tensor per projection (llama.cpp's converter stacks them); both must load to the same model,
// every expert tensor is used, and anything a family does not use (a shared expert) or lacks (an
// expert) is named.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { nativeKernels } from '../../src/kernels/native.js';
import type { ModelConfig } from '../../src/model/config.js';
import { ModelLoadError } from '../../src/model/errors.js';
import { readGguf } from '../../src/model/formats/gguf.js';
import { writeSafetensors } from '../../src/model/formats/safetensors-writer.js';
import type { RawTensor } from '../../src/model/formats/tensor.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { randomTensors, saveGgufModel, saveHfModel } from '../../src/model/random-model.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';
import { scaledConfig, scratchDir } from './formats/fixtures.js';

const MOE = { numExperts: 6, numExpertsPerTok: 2, expertIntermediateSize: 32, normTopkProb: true };
const QWEN3MOE: ModelConfig = { ...scaledConfig('Qwen3-30B-A3B.json', { numLayers: 2, headDim: 16, intermediateSize: 96, vocabSize: 128 }), moe: MOE };
// Mixtral's experts are intermediate_size wide (GGUF llama has no separate width).
const MIXTRAL: ModelConfig = {
  ...scaledConfig('TinyLlama-1.1B-Chat-v1.0.json', { numLayers: 2, headDim: 8, intermediateSize: 64, vocabSize: 128 }),
  architecture: 'mixtral',
  moe: { ...MOE, expertIntermediateSize: 64 },
};

function refuses(p: string, problem: RegExp): void {
  assert.throws(() => openModelFiles(p), (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, String(err));
    assert.match(err.problem, problem);
    return true;
  });
}

function logits(modelPath: string): { config: ModelConfig; logits: Float32Array } {
  const files = openModelFiles(modelPath);
  assert.deepEqual(files.warnings, []);
  const weights = loadWeights(files.config, files.tensors, nativeKernels);
  files.tensors.close();
  const runner = new ModelRunner(new Transformer(files.config, weights, nativeKernels), new KvCache(files.config, 4, 16, 'f32'));
  const tokens = [1, 5, 9, 33, 60, 2, 100, 7, 64];
  const [out] = runner.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: [0], contextLen: tokens.length, logits: 'all' }]);
  return { config: files.config, logits: out! };
}

for (const config of [QWEN3MOE, MIXTRAL]) {
  describe(`${config.architecture}: GGUF and safetensors`, () => {
    test('the GGUF stacks each projection\'s experts 3-D and reads them back per expert, bytes unchanged', (t) => {
      const dir = scratchDir(t);
      const tensors = randomTensors(config, { seed: 4, dtype: 'f32' });
      const file = path.join(dir, 'm.gguf');
      saveGgufModel(file, config, tensors);
      const gguf = readGguf(file);
      const stacked = gguf.tensorInfos.filter((i) => /_exps\.weight$/.test(i.ggufName));
      assert.equal(stacked.length, 3 * config.numLayers);
      const d = config.hiddenSize, ff = config.moe!.expertIntermediateSize, e = config.moe!.numExperts;
      assert.deepEqual(stacked.find((i) => i.ggufName === 'blk.1.ffn_down_exps.weight')?.shape, [e, d, ff]);
      assert.deepEqual(stacked.find((i) => i.ggufName === 'blk.0.ffn_up_exps.weight')?.shape, [e, ff, d]);
      assert.ok(gguf.tensorInfos.some((i) => i.ggufName === 'blk.0.ffn_gate_inp.weight'));
      const names = new Set(gguf.tensors.names());
      for (const want of tensors) {
        if (config.architecture === 'mixtral' && /self_attn\.[qk]_proj/.test(want.name)) continue; // rows permuted for llama's RoPE
        assert.ok(names.has(want.name), `GGUF exposes ${want.name}`);
        assert.deepEqual(gguf.tensors.read(want.name).data, want.data, want.name);
      }
      gguf.tensors.close();
    });

    test('a q8_0 GGUF keeps the router f32, as llama.cpp\'s converter writes ffn_gate_inp', (t) => {
      const file = path.join(scratchDir(t), 'q8.gguf');
      saveGgufModel(file, config, randomTensors(config, { seed: 6, dtype: 'f32' }), { weightDtype: 'q8_0' });
      const gguf = readGguf(file);
      gguf.tensors.close();
      const type = (name: string) => gguf.tensorInfos.find((i) => i.ggufName === name)?.dtype;
      assert.deepEqual([type('blk.0.ffn_gate_inp.weight'), type('blk.0.ffn_gate_exps.weight'), type('blk.1.ffn_down_exps.weight')], ['f32', 'q8_0', 'q8_0']);
    });

    test('both forms load as the same model and give the same logits', (t) => {
      const dir = scratchDir(t);
      const tensors = randomTensors(config, { seed: 5, dtype: 'f32', std: 0.1 });
      saveGgufModel(path.join(dir, 'm.gguf'), config, tensors);
      saveHfModel(path.join(dir, 'hf'), config, tensors);
      const a = logits(path.join(dir, 'm.gguf')), b = logits(path.join(dir, 'hf'));
      assert.equal(a.config.architecture, config.architecture);
      assert.deepEqual(a.config.moe, config.moe);
      assert.deepEqual(b.config.moe, config.moe);
      let diff = 0, scale = 0;
      for (let i = 0; i < a.logits.length; i++) {
        diff = Math.max(diff, Math.abs(a.logits[i]! - b.logits[i]!));
        scale = Math.max(scale, Math.abs(b.logits[i]!));
      }
      assert.ok(diff <= 1e-5 * scale, `max diff ${diff} of ${scale}`);
    });
  });
}

describe('mixture-of-experts tensors the model does not use, or lacks', () => {
  function hfWith(dir: string, config: ModelConfig, edit: (t: RawTensor[]) => RawTensor[]): string {
    const out = path.join(dir, 'hf');
    const tensors = randomTensors(config, { seed: 2, dtype: 'f32' });
    saveHfModel(out, config, tensors);
    writeSafetensors(path.join(out, 'model.safetensors'), edit(tensors));
    return out;
  }
  const f32 = (name: string, shape: number[]): RawTensor => ({ name, dtype: 'f32', shape, data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)) });

  test('a shared expert (Qwen2-MoE style) is refused by name', (t) => {
    const p = hfWith(scratchDir(t), QWEN3MOE, (ts) => [...ts, f32('model.layers.0.mlp.shared_expert.gate_proj.weight', [32, QWEN3MOE.hiddenSize])]);
    refuses(p, /^tensors the qwen3moe architecture does not use: model\.layers\.0\.mlp\.shared_expert\.gate_proj\.weight; running without them/);
  });

  test('a missing expert is named', (t) => {
    const p = hfWith(scratchDir(t), MIXTRAL, (ts) => ts.filter((x) => x.name !== 'model.layers.1.block_sparse_moe.experts.3.w2.weight'));
    refuses(p, /^missing tensor model\.layers\.1\.block_sparse_moe\.experts\.3\.w2\.weight$/);
  });

  test('an expert beyond the config\'s count is named as unused', (t) => {
    const p = hfWith(scratchDir(t), MIXTRAL, (ts) => [...ts, f32('model.layers.0.block_sparse_moe.experts.6.w1.weight', [64, MIXTRAL.hiddenSize])]);
    refuses(p, /does not use: model\.layers\.0\.block_sparse_moe\.experts\.6\.w1\.weight; running/);
  });
});
