// configFromHf against the real config.json files in ../shared/models/configs, and the checks
// that keep nonsense configs out.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { configFromHf, hfConfigJson, llama3RopeFactors, validateConfig, type ModelConfig } from '../../src/model/config.js';
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
    assert.ok(files.includes('Qwen3-30B-A3B.json'), 'a MoE config to be refused by name');
    assert.ok(files.length >= 15);
  });

  for (const file of files) {
    const json = load(file) as { model_type: string };
    if (['llama', 'mistral', 'qwen2', 'qwen3'].includes(json.model_type)) {
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
        assert.equal(c.qkNorm, json.model_type === 'qwen3');
        assert.equal(c.architecture, json.model_type === 'mistral' ? 'llama' : json.model_type);
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
    rejects(() => configFromHf({ ...base, num_local_experts: 8 }, 'c.json'), 'c.json', /mixture of experts \(8 experts\) is not supported/);
    rejects(() => configFromHf({ ...base, partial_rotary_factor: 0.5 }, 'c.json'), 'c.json', /partial_rotary_factor 0.5 for llama is not supported/);
    rejects(() => configFromHf({ ...base, rope_scaling: { rope_type: 'longrope', factor: 4 } }, 'c.json'), 'c.json', /rope_scaling longrope needs short_factor, long_factor and original_max_position_embeddings/);
    rejects(() => configFromHf(load('Qwen3-30B-A3B.json'), 'c.json'), 'c.json', /unsupported architecture \(Qwen3MoeForCausalLM, model_type qwen3_moe\)/);
    // What they carry but leave off is no reason to refuse.
    assert.equal(configFromHf({ ...qwen3, sliding_window: 4096, use_sliding_window: false, num_experts: 0 }, 'c.json').architecture, 'qwen3');
  });

  test('hfConfigJson parses back to the same config', () => {
    for (const file of ['TinyLlama-1.1B-Chat-v1.0.json', 'Qwen2.5-0.5B-Instruct.json', 'Llama-3.1-8B.json', 'SmolLM2-135M.json', 'Qwen3-4B.json']) {
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
