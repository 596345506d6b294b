// configFromHf against the real config.json files in ../shared/models/configs, and the checks
// that keep nonsense configs out.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { configFromHf, hfConfigJson, isSlidingLayer, llama3RopeFactors, validateConfig, type ModelConfig } from '../../src/model/config.js';
import { ModelLoadError } from '../../src/model/errors.js';
import { ropeInvFreq } from '../../src/model/rope.js';

const CONFIGS = path.resolve(import.meta.dirname, '../../../shared/models/configs');

function load(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(CONFIGS, name), 'utf8'));
}

function rejects(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, `expected ModelLoadError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.match(err.message, problem);
    return true;
  });
}

describe('configFromHf on real configs', () => {
  const files = fs.readdirSync(CONFIGS).filter((f) => f.endsWith('.json')).sort();

  test('the directory holds the expected mix', () => {
    assert.equal(files.filter((f) => f.startsWith('Qwen3')).length, 5);
    assert.ok(files.includes('Qwen3-30B-A3B.json'), 'a mixture-of-experts config');
    assert.ok(files.length >= 15);
  });

  for (const file of files) {
    const json = load(file) as { model_type: string };
    if (['llama', 'mistral', 'qwen2', 'qwen3', 'qwen3_moe'].includes(json.model_type)) {
      test(`parses ${file}`, () => {
        const c = configFromHf(json, file);
        const raw = json as unknown as Record<string, number>;
        assert.equal(c.hiddenSize, raw.hidden_size);
        assert.equal(c.numLayers, raw.num_hidden_layers);
        assert.equal(c.numKvHeads, raw.num_key_value_heads);
        // Qwen3 states its head size (128 for 4B, whose hidden/heads is 80).
        assert.equal(c.headDim, raw.head_dim ?? raw.hidden_size / raw.num_attention_heads);
        assert.equal(c.ropeStyle, 'neox');
        assert.equal(c.attentionBias, json.model_type === 'qwen2');
        assert.equal(c.qkNorm, json.model_type.startsWith('qwen3'));
        assert.equal(c.architecture, { mistral: 'llama', qwen3_moe: 'qwen3moe' }[json.model_type] ?? json.model_type);
        assert.equal(c.moe !== undefined, json.model_type === 'qwen3_moe');
      });
    } else {
      test(`rejects ${file} (${json.model_type}) by name`, () => {
        rejects(() => configFromHf(json, file), file, new RegExp(`unsupported architecture .*model_type ${json.model_type}.*supported: LlamaForCausalLM`));
      });
    }
  }

  test('Qwen2.5-0.5B-Instruct: GQA 14/2, tied, biases, eps 1e-6, theta 1e6', () => {
    const c = configFromHf(load('Qwen2.5-0.5B-Instruct.json'), 'q');
    assert.deepEqual(c, {
      architecture: 'qwen2', hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2,
      headDim: 64, vocabSize: 151936, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 1000000,
      ropeScaling: null, ropeStyle: 'neox', tieWordEmbeddings: true, attentionBias: true, qkNorm: false, bosTokenId: 151643, eosTokenIds: [151645],
    });
  });

  test('Qwen3-4B: head_dim 128 beside hidden 2560 / 32 heads, q/k norms, no biases', () => {
    const c = configFromHf(load('Qwen3-4B.json'), 'q');
    assert.deepEqual([c.architecture, c.headDim, c.numHeads, c.numKvHeads, c.attentionBias, c.qkNorm], ['qwen3', 128, 32, 8, false, true]);
    assert.equal(c.maxPositionEmbeddings, 40960);
  });

  test('Llama-3.2-3B: llama3 rope scaling is parsed', () => {
    const c = configFromHf(load('Llama-3.2-3B.json'), 'l');
    assert.deepEqual(c.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    assert.equal(c.headDim, 128);
    assert.equal(c.ropeTheta, 500000);
    assert.equal(c.tieWordEmbeddings, true);
  });

  test('Qwen3-30B-A3B: 128 experts of 768, top 8, renormalised; Qwen3 attention', () => {
    const c = configFromHf(load('Qwen3-30B-A3B.json'), 'q');
    assert.deepEqual([c.architecture, c.headDim, c.numHeads, c.numKvHeads, c.qkNorm, c.attentionBias, c.tieWordEmbeddings], ['qwen3moe', 128, 32, 4, true, false, false]);
    assert.deepEqual(c.moe, { numExperts: 128, numExpertsPerTok: 8, expertIntermediateSize: 768, normTopkProb: true });
  });

  test('Mixtral-8x7B-v0.1 (bench/configs): 8 experts of intermediate_size, top 2, always renormalised', () => {
    const file = path.resolve(import.meta.dirname, '../../bench/configs/Mixtral-8x7B-v0.1.json');
    const c = configFromHf(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.deepEqual([c.architecture, c.hiddenSize, c.headDim, c.numHeads, c.numKvHeads, c.qkNorm, c.rmsNormEps, c.ropeTheta], ['mixtral', 4096, 128, 32, 8, false, 1e-5, 1e6]);
    assert.equal(c.maxPositionEmbeddings, 32768);
    assert.deepEqual(c.moe, { numExperts: 8, numExpertsPerTok: 2, expertIntermediateSize: 14336, normTopkProb: true });
    assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(hfConfigJson(c))), file), c);
  });

  test('gemma-2-2b-it and gemma-3-1b-it (bench/configs): windows, soft-caps, local theta, as published', () => {
    const read = (name: string) => {
      const file = path.resolve(import.meta.dirname, `../../bench/configs/${name}.json`);
      return configFromHf(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    };
    const g2 = read('gemma-2-2b-it');
    assert.deepEqual([g2.architecture, g2.hiddenSize, g2.headDim, g2.numHeads, g2.numKvHeads, g2.numLayers], ['gemma2', 2304, 256, 8, 4, 26]);
    assert.deepEqual(g2.slidingWindow, { size: 4096, pattern: 2 });
    assert.deepEqual([g2.attnLogitSoftcap, g2.finalLogitSoftcap, g2.queryPreAttnScalar, g2.eosTokenIds], [50, 30, 256, [1, 107]]);
    const g3 = read('gemma-3-1b-it');
    assert.deepEqual([g3.architecture, g3.hiddenSize, g3.headDim, g3.numHeads, g3.numKvHeads, g3.numLayers], ['gemma3', 1152, 256, 4, 1, 26]);
    assert.deepEqual(g3.slidingWindow, { size: 512, pattern: 6 });
    assert.deepEqual([g3.ropeTheta, g3.ropeLocalTheta, g3.attnLogitSoftcap, g3.maxPositionEmbeddings], [1e6, 1e4, undefined, 32768]);
  });

  test('SmolLM2-135M: 9 heads over 3 KV heads, eos 0', () => {
    const c = configFromHf(load('SmolLM2-135M.json'), 's');
    assert.deepEqual([c.numHeads, c.numKvHeads, c.headDim, c.bosTokenId, c.eosTokenIds], [9, 3, 64, 0, [0]]);
  });
});

describe('configFromHf edge cases', () => {
  const base = load('TinyLlama-1.1B-Chat-v1.0.json') as Record<string, unknown>;

  test('head_dim defaults to hidden / heads and num_key_value_heads to heads', () => {
    const { head_dim, num_key_value_heads, ...rest } = base;
    const c = configFromHf(rest, 'x');
    assert.equal(c.headDim, 64);
    assert.equal(c.numKvHeads, 32);
  });

  test('rope_scaling: linear, default and legacy "type" key', () => {
    assert.deepEqual(configFromHf({ ...base, rope_scaling: { type: 'linear', factor: 4 } }, 'x').ropeScaling, { type: 'linear', factor: 4 });
    assert.equal(configFromHf({ ...base, rope_scaling: { rope_type: 'default' } }, 'x').ropeScaling, null);
    rejects(() => configFromHf({ ...base, rope_scaling: { rope_type: 'longrope2', factor: 4 } }, 'c.json'), 'c.json', /rope_scaling type longrope2 is not supported/);
    rejects(() => configFromHf({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'c.json'), 'c.json', /llama3 needs/);
  });

  test('eos_token_id may be a list; Mistral sliding window caps the context', () => {
    assert.deepEqual(configFromHf({ ...base, eos_token_id: [2, 0, 2] }, 'x').eosTokenIds, [2, 0]);
    const mistral = configFromHf({ ...base, architectures: ['MistralForCausalLM'], model_type: 'mistral', max_position_embeddings: 32768, sliding_window: 4096 }, 'x');
    assert.equal(mistral.architecture, 'llama');
    assert.equal(mistral.maxPositionEmbeddings, 4096);
  });

  test('bad values are named', () => {
    rejects(() => configFromHf({ ...base, hidden_size: -1 }, 'c.json'), 'c.json', /invalid config.json: hidden_size/);
    rejects(() => configFromHf({ ...base, num_attention_heads: 'many' }, 'c.json'), 'c.json', /num_attention_heads/);
    rejects(() => configFromHf({ ...base, num_key_value_heads: 5 }, 'c.json'), 'c.json', /not a multiple of numKvHeads 5/);
    rejects(() => configFromHf({ ...base, hidden_act: 'gelu' }, 'c.json'), 'c.json', /hidden_act gelu/);
    rejects(() => configFromHf({ ...base, eos_token_id: 32000 }, 'c.json'), 'c.json', /special token id 32000 is outside/);
    rejects(() => configFromHf([], 'c.json'), 'c.json', /not a JSON object/);
    rejects(() => configFromHf({ ...base, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }, 'c.json'), 'c.json', /unsupported architecture \(GPT2LMHeadModel, model_type gpt2\)/);
    rejects(() => configFromHf({ ...base, model_type: 'constructor', architectures: [] }, 'c.json'), 'c.json', /unsupported architecture/);
  });

  test('features these classes do not run are refused by name', () => {
    const qwen3 = load('Qwen3-4B.json') as Record<string, unknown>;
    rejects(() => configFromHf({ ...qwen3, attention_bias: true }, 'c.json'), 'c.json', /attention_bias \(biases on q, k, v and o_proj\) for qwen3 is not supported/);
    rejects(() => configFromHf({ ...qwen3, use_sliding_window: true, sliding_window: 4096 }, 'c.json'), 'c.json', /use_sliding_window \(sliding-window attention, window 4096\) is not supported/);
    rejects(() => configFromHf({ ...qwen3, layer_types: ['sliding_attention', 'full_attention'] }, 'c.json'), 'c.json', /layer_types sliding_attention, full_attention/);
    rejects(() => configFromHf({ ...base, num_local_experts: 8 }, 'c.json'), 'c.json', /mixture of experts \(8 experts\) for llama is not supported/);
    rejects(() => configFromHf({ ...base, partial_rotary_factor: 0.5 }, 'c.json'), 'c.json', /partial_rotary_factor 0.5 for llama is not supported/);
    rejects(() => configFromHf({ ...base, rope_scaling: { rope_type: 'longrope', factor: 4 } }, 'c.json'), 'c.json', /rope_scaling longrope needs short_factor, long_factor and original_max_position_embeddings/);
    const moe = load('Qwen3-30B-A3B.json') as Record<string, unknown>;
    rejects(() => configFromHf({ ...moe, decoder_sparse_step: 2 }, 'c.json'), 'c.json', /decoder_sparse_step 2 \(dense FFN layers between sparse ones\) is not supported/);
    rejects(() => configFromHf({ ...moe, mlp_only_layers: [0, 3] }, 'c.json'), 'c.json', /mlp_only_layers 0, 3 \(dense FFN layers among sparse ones\) is not supported/);
    rejects(() => configFromHf({ ...moe, shared_expert_intermediate_size: 512 }, 'c.json'), 'c.json', /shared_expert_intermediate_size 512 \(a shared expert\) is not supported/);
    rejects(() => configFromHf({ ...moe, num_experts_per_tok: undefined }, 'c.json'), 'c.json', /Qwen3MoeForCausalLM needs num_experts_per_tok/);
    rejects(() => configFromHf({ ...moe, num_experts_per_tok: 129 }, 'c.json'), 'c.json', /numExpertsPerTok 129 is more than numExperts 128/);
    rejects(() => configFromHf({ ...moe, model_type: 'qwen2_moe', architectures: ['Qwen2MoeForCausalLM'] }, 'c.json'), 'c.json', /unsupported architecture \(Qwen2MoeForCausalLM, model_type qwen2_moe\)/);
    // transformers' Qwen3MoeConfig default: no renormalisation.
    assert.equal(configFromHf({ ...moe, norm_topk_prob: undefined }, 'c.json').moe?.normTopkProb, false);
    // What they carry but leave off is no reason to refuse.
    assert.equal(configFromHf({ ...qwen3, sliding_window: 4096, use_sliding_window: false, num_experts: 0 }, 'c.json').architecture, 'qwen3');
  });

  test('hfConfigJson parses back to the same config', () => {
    for (const file of ['TinyLlama-1.1B-Chat-v1.0.json', 'Qwen2.5-0.5B-Instruct.json', 'Llama-3.1-8B.json', 'SmolLM2-135M.json', 'Qwen3-4B.json', 'Qwen3-30B-A3B.json']) {
      const c = configFromHf(load(file), file);
      assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(hfConfigJson(c))), file), c, file);
    }
  });
});

describe('RoPE frequencies', () => {
  const llama31 = (): ModelConfig => configFromHf(load('Llama-3.1-8B.json'), 'l');

  test('llama3 factors: 1 for high frequencies, the factor for low ones, smooth between', () => {
    const c = llama31();
    const f = llama3RopeFactors(c.ropeScaling as Extract<ModelConfig['ropeScaling'], { type: 'llama3' }>, c.headDim, c.ropeTheta);
    assert.equal(f.length, 64);
    assert.equal(f[0], 1);
    assert.equal(f[63], 8);
    const between = [...f].filter((v) => v > 1 && v < 8);
    assert.ok(between.length > 0 && between.length < 20);
    for (let i = 1; i < f.length; i++) assert.ok(f[i]! >= f[i - 1]!, 'factors grow with wavelength');
  });

  test('a GGUF-style rope_freqs tensor rotates exactly as the llama3 parameters it came from', () => {
    const c = llama31();
    const factors = llama3RopeFactors(c.ropeScaling as Extract<ModelConfig['ropeScaling'], { type: 'llama3' }>, c.headDim, c.ropeTheta);
    const fromParams = ropeInvFreq(c);
    const fromTensor = ropeInvFreq({ ...c, ropeScaling: null, ropeFreqFactors: factors });
    for (let i = 0; i < fromParams.length; i++) {
      assert.ok(Math.abs(fromTensor[i]! - fromParams[i]!) <= 1e-6 * fromParams[i]!, `pair ${i}: ${fromTensor[i]} vs ${fromParams[i]}`);
    }
  });

  test('validateConfig checks the factor count', () => {
    const c = llama31();
    assert.throws(() => validateConfig({ ...c, ropeFreqFactors: new Float32Array(3) }, 'f'), /rope_freqs has 3 values, expected 64 \(rotary dims \/ 2\)/);
  });
});

describe('Gemma configs (test/model/fixtures/configs)', () => {
  const GEMMA = path.resolve(import.meta.dirname, 'fixtures/configs');
  const gemma = (name: string) => JSON.parse(fs.readFileSync(path.join(GEMMA, name), 'utf8')) as Record<string, unknown>;

  test('gemma-2-2b: GeGLU, soft-caps 50/30, window 4096 on alternate layers from layer 0, scale 256^-½, norms (1 + w)', () => {
    const c = configFromHf(gemma('gemma-2-2b.json'), 'g2');
    assert.deepEqual([c.architecture, c.hiddenSize, c.numHeads, c.numKvHeads, c.headDim, c.tieWordEmbeddings, c.qkNorm], ['gemma2', 2304, 8, 4, 256, true, false]);
    assert.deepEqual([c.attnLogitSoftcap, c.finalLogitSoftcap, c.queryPreAttnScalar, c.normWeightOffset], [50, 30, 256, 1]);
    assert.deepEqual(c.slidingWindow, { size: 4096, pattern: 2 });
    assert.deepEqual(Array.from({ length: 4 }, (_, l) => isSlidingLayer(c, l)), [true, false, true, false]);
    assert.equal(c.ropeLocalTheta, undefined);
    assert.deepEqual([c.bosTokenId, c.eosTokenIds], [2, [1]]);
  });

  test('gemma-3-1b-it: q/k norms, five local layers (window 512, theta 10000) then one global (theta 1e6), no soft-caps', () => {
    const c = configFromHf(gemma('gemma-3-1b-it.json'), 'g3');
    assert.deepEqual([c.architecture, c.numHeads, c.numKvHeads, c.headDim, c.qkNorm, c.ropeTheta, c.ropeLocalTheta], ['gemma3', 4, 1, 256, true, 1e6, 10000]);
    assert.deepEqual(c.slidingWindow, { size: 512, pattern: 6 });
    assert.deepEqual(Array.from({ length: 13 }, (_, l) => isSlidingLayer(c, l)), [true, true, true, true, true, false, true, true, true, true, true, false, true]);
    assert.deepEqual([c.attnLogitSoftcap, c.finalLogitSoftcap, c.ropeScaling], [undefined, undefined, null]);
    assert.deepEqual(c.eosTokenIds, [1, 106]);
  });

  test('gemma-3-4b text: linear RoPE scaling 8 on the global layers only', () => {
    const c = configFromHf(gemma('gemma-3-4b-it.text.json'), 'g3');
    assert.deepEqual(c.ropeScaling, { type: 'linear', factor: 8 });
    assert.equal(c.ropeLocalTheta, 10000);
    assert.deepEqual(c.slidingWindow, { size: 1024, pattern: 6 });
  });

  test('transformers v5 rope_parameters per layer type and layer_types lists read the same', () => {
    const json = gemma('gemma-3-4b-it.text.json');
    const { rope_scaling: _s, rope_theta: _t, rope_local_base_freq: _l, sliding_window_pattern: _p, ...rest } = json;
    const v5 = {
      ...rest,
      rope_parameters: { full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
      layer_types: Array.from({ length: 34 }, (_, i) => ((i + 1) % 6 ? 'sliding_attention' : 'full_attention')),
    };
    const a = configFromHf(json, 'a'), b = configFromHf(v5, 'b');
    assert.deepEqual(b, a);
  });

  test('hfConfigJson round-trips', () => {
    for (const name of ['gemma-2-2b.json', 'gemma-3-1b-it.json', 'gemma-3-4b-it.text.json']) {
      const c = configFromHf(gemma(name), name);
      assert.deepEqual(configFromHf(hfConfigJson(c), name), c, name);
    }
  });

  test('refuses what Pensieve does not run, by name', () => {
    rejects(() => configFromHf({ ...gemma('gemma-3-1b-it.json'), attn_logit_softcapping: 50 }, 'x'), 'x', /attn_logit_softcapping is not supported for gemma3/);
    rejects(() => configFromHf({ ...gemma('gemma-2-2b.json'), hidden_activation: 'gelu' }, 'x'), 'x', /hidden_act gelu is not supported for gemma2; supported: gelu_pytorch_tanh/);
    rejects(() => configFromHf({ ...gemma('gemma-2-2b.json'), layer_types: Array.from({ length: 26 }, (_, i) => (i % 3 ? 'full_attention' : 'sliding_attention')) }, 'x'), 'x', /not a repeating pattern/);
    rejects(() => configFromHf({ ...gemma('gemma-3-1b-it.json'), model_type: 'gemma3', architectures: ['Gemma3ForConditionalGeneration'] }, 'x'), 'x', /unsupported architecture \(Gemma3ForConditionalGeneration, model_type gemma3\)/);
    rejects(() => configFromHf({ ...gemma('gemma-2-2b.json'), model_type: 'gemma', architectures: ['GemmaForCausalLM'] }, 'x'), 'x', /unsupported architecture/);
  });

  test('Gemma 2 keys absent take transformers\' defaults; null turns a feature off', () => {
    const { attn_logit_softcapping: _a, final_logit_softcapping: _f, sliding_window: _w, ...bare } = gemma('gemma-2-2b.json');
    const c = configFromHf(bare, 'x');
    assert.deepEqual([c.attnLogitSoftcap, c.finalLogitSoftcap, c.slidingWindow?.size], [50, 30, 4096]);
    const off = configFromHf({ ...bare, attn_logit_softcapping: null, final_logit_softcapping: null, sliding_window: null }, 'x');
    assert.deepEqual([off.attnLogitSoftcap, off.finalLogitSoftcap, off.slidingWindow], [undefined, undefined, undefined]);
  });
});
