// Loading never guesses: a file's tensors are exactly what the model uses, or loading says
// which are not and why (stray biases, experts in a dense model); only tensors that cannot change
// the output pass, with a warning; and a tied checkpoint loads whichever name stores the matrix.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { ggufMetadataFor, hfToGgufTensors } from '../../src/model/formats/gguf-convert.js';
import { writeGguf } from '../../src/model/formats/gguf-writer.js';
import { writeSafetensors } from '../../src/model/formats/safetensors-writer.js';
import type { RawTensor } from '../../src/model/formats/tensor.js';
import { ModelLoadError } from '../../src/model/errors.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { randomTensors, saveHfModel } from '../../src/model/random-model.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';
import { scaledConfig, scratchDir } from './formats/fixtures.js';

const LLAMA = scaledConfig('TinyLlama-1.1B-Chat-v1.0.json', { numLayers: 2, headDim: 8, intermediateSize: 64, vocabSize: 64 });
const QWEN3 = { ...scaledConfig('Qwen3-4B.json', { numLayers: 1, headDim: 16, intermediateSize: 64, vocabSize: 64 }), hiddenSize: 96 };

function f32(name: string, shape: number[], value = 0.01): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, dtype: 'f32', shape, data: new Uint8Array(new Float32Array(n).fill(value).buffer) };
}

function refuses(p: string, problem: RegExp): void {
  assert.throws(() => openModelFiles(p), (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, String(err));
    assert.match(err.problem, problem);
    return true;
  });
}

/** A llama-arch GGUF of LLAMA's tensors, with `edit` applied to the GGUF-named list. */
function llamaGguf(dir: string, edit: (t: RawTensor[]) => RawTensor[], extraMeta: [string, number][] = []): string {
  const p = path.join(dir, 'model.gguf');
  const meta = ggufMetadataFor(LLAMA);
  for (const [key, value] of extraMeta) meta.set(key, { type: 'u32', value });
  writeGguf(p, meta, edit(hfToGgufTensors(LLAMA, randomTensors(LLAMA, { seed: 1, dtype: 'f32' }))));
  return p;
}

function logits(modelPath: string): Float32Array {
  const files = openModelFiles(modelPath);
  const weights = loadWeights(files.config, files.tensors, referenceKernels);
  files.tensors.close();
  const runner = new ModelRunner(new Transformer(files.config, weights, referenceKernels), new KvCache(files.config, 4, 16, 'f32'));
  const tokens = [1, 5, 9, 33, 60, 2];
  const [out] = runner.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: [0], contextLen: tokens.length, logits: 'all' }]);
  return out!;
}

describe('GGUF tensors the architecture does not use', () => {
  test('stray biases on attn_output and ffn_down are named, with why they matter', (t) => {
    const p = llamaGguf(scratchDir(t), (ts) => [...ts, f32('blk.0.attn_output.bias', [LLAMA.hiddenSize]), f32('blk.1.ffn_down.bias', [LLAMA.hiddenSize])]);
    refuses(p, /^tensors the llama architecture does not use: blk\.0\.attn_output\.bias, blk\.1\.ffn_down\.bias \(Pensieve adds no bias there; llama\.cpp and transformers would\); running without them would give different output$/);
  });

  test('a tensor of another family (a Qwen3 q norm on a llama file) is named in GGUF and HF terms', (t) => {
    const p = llamaGguf(scratchDir(t), (ts) => [...ts, f32('blk.0.attn_q_norm.weight', [8])]);
    refuses(p, /does not use: blk\.0\.attn_q_norm\.weight \(model\.layers\.0\.self_attn\.q_norm\.weight\); running/);
  });

  test('expert tensors in a model with no expert count are refused as experts, not as a missing ffn_gate', (t) => {
    const { hiddenSize: d, intermediateSize: ff } = LLAMA;
    const moe = (ts: RawTensor[]): RawTensor[] => [
      ...ts.filter((x) => !/ffn_(gate|up|down)\.weight$/.test(x.name)),
      ...[0, 1].flatMap((l) => [
        f32(`blk.${l}.ffn_gate_inp.weight`, [4, d]),
        f32(`blk.${l}.ffn_gate_exps.weight`, [4, ff, d]),
        f32(`blk.${l}.ffn_up_exps.weight`, [4, ff, d]),
        f32(`blk.${l}.ffn_down_exps.weight`, [4, d, ff]),
      ]),
    ];
    const dir = scratchDir(t);
    refuses(llamaGguf(dir, moe), /^mixture-of-experts tensors \(blk\.0\.ffn_gate_inp\.weight\) in a model whose config has no experts \(llama\) are not supported$/);
    // Mixtral's first GGUFs: one tensor per expert.
    refuses(llamaGguf(dir, (ts) => [...ts, f32('blk.0.ffn_gate.0.weight', [ff, d])]), /^mixture-of-experts tensors \(blk\.0\.ffn_gate\.0\.weight\)/);
    // An expert count on a dense-only arch is refused by the config.
    const qwen2 = path.join(dir, 'qwen2.gguf');
    const meta = ggufMetadataFor({ ...LLAMA, architecture: 'qwen2', attentionBias: true, ropeStyle: 'neox' });
    meta.set('qwen2.expert_count', { type: 'u32', value: 4 });
    writeGguf(qwen2, meta, []);
    refuses(qwen2, /^mixture of experts \(qwen2\.expert_count = 4\) is not supported for qwen2$/);
  });

  test('rope_freqs.weight is used, not stray', (t) => {
    const p = llamaGguf(scratchDir(t), (ts) => [...ts, f32('rope_freqs.weight', [LLAMA.headDim / 2], 1)]);
    const files = openModelFiles(p);
    files.tensors.close();
    assert.deepEqual([...files.config.ropeFreqFactors!], [1, 1, 1, 1]);
    assert.deepEqual(files.warnings, []);
  });
});

describe('safetensors tensors the architecture does not use', () => {
  function hfWith(dir: string, config: typeof LLAMA, edit: (t: RawTensor[]) => RawTensor[]): string {
    const out = path.join(dir, 'hf');
    const tensors = randomTensors(config, { seed: 2, dtype: 'f32' });
    saveHfModel(out, config, tensors);
    writeSafetensors(path.join(out, 'model.safetensors'), edit(tensors));
    return out;
  }

  test('an o_proj bias and an unknown tensor are refused', (t) => {
    const p = hfWith(scratchDir(t), LLAMA, (ts) => [...ts, f32('model.layers.1.self_attn.o_proj.bias', [LLAMA.hiddenSize]), f32('model.vision_tower.proj', [4])]);
    refuses(p, /does not use: model\.layers\.1\.self_attn\.o_proj\.bias, model\.vision_tower\.proj \(Pensieve adds no bias there/);
  });

  test('Qwen3-MoE expert names in a dense Qwen3 are refused as experts', (t) => {
    const p = hfWith(scratchDir(t), QWEN3, (ts) => [...ts, f32('model.layers.0.mlp.experts.0.gate_proj.weight', [4, 4])]);
    refuses(p, /^mixture-of-experts tensors \(model\.layers\.0\.mlp\.experts\.0\.gate_proj\.weight\) in a model whose config has no experts \(qwen3\) are not supported$/);
  });

  test('rotary_emb.inv_freq loads with a warning (the config gives the same frequencies)', (t) => {
    const p = hfWith(scratchDir(t), LLAMA, (ts) => [...ts, f32('model.layers.0.self_attn.rotary_emb.inv_freq', [LLAMA.headDim / 2])]);
    const files = openModelFiles(p);
    files.tensors.close();
    assert.equal(files.warnings.length, 1);
    assert.match(files.warnings[0]!, /ignoring tensor model\.layers\.0\.self_attn\.rotary_emb\.inv_freq: RoPE frequencies are computed from the config/);
  });
});

describe('tie_word_embeddings: true', () => {
  test('the shared matrix stored as embed_tokens, as lm_head, or as both gives the same logits', (t) => {
    const dir = scratchDir(t);
    const config = { ...LLAMA, tieWordEmbeddings: true };
    const tensors = randomTensors(config, { seed: 4, dtype: 'f32' });
    const embed = tensors.find((x) => x.name === 'model.embed_tokens.weight')!;
    const asEmbed = path.join(dir, 'embed');
    saveHfModel(asEmbed, config, tensors);
    const asHead = path.join(dir, 'head');
    saveHfModel(asHead, config, tensors.map((x) => (x === embed ? { ...x, name: 'lm_head.weight' } : x)));
    // Both names, lm_head holding other values: transformers ties lm_head to the embedding.
    const both = path.join(dir, 'both');
    saveHfModel(both, config, [...tensors, { ...f32('lm_head.weight', embed.shape, 0.5) }]);

    const want = logits(asEmbed);
    assert.deepEqual(logits(asHead), want);
    assert.deepEqual(logits(both), want);
    const files = openModelFiles(both);
    files.tensors.close();
    assert.match(files.warnings.join('\n'), /ignoring tensor lm_head\.weight: tie_word_embeddings is true/);
  });

  test('an untied checkpoint without lm_head.weight is refused', (t) => {
    const dir = path.join(scratchDir(t), 'hf');
    const config = { ...LLAMA, tieWordEmbeddings: false };
    saveHfModel(dir, config, randomTensors(config, { seed: 4, dtype: 'f32' }).filter((x) => x.name !== 'lm_head.weight'));
    refuses(dir, /^missing tensor lm_head\.weight$/);
  });
});
