// RoPE frequency tables and the partial, scaled rotation, each against the formulas of
// transformers' modeling_rope_utils (transcribed independently here, array by array) and
// llama.cpp's ggml_rope_ext; and the real configs that use them (bench/configs).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { referenceKernels } from '../../src/kernels/reference.js';
import { configFromHf, type ModelConfig } from '../../src/model/config.js';
import { configFromGguf } from '../../src/model/formats/gguf-config.js';
import { hfToGgufTensors, ggufMetadataFor } from '../../src/model/formats/gguf-convert.js';
import { MemoryTensorStore } from '../../src/model/formats/memory-tensor-store.js';
import { applyRope, ropeInvFreq, ropeTables } from '../../src/model/rope.js';

const CONFIGS = path.resolve(import.meta.dirname, '../../bench/configs');
const readConfig = (name: string): ModelConfig => {
  const file = path.join(CONFIGS, `${name}.json`);
  return configFromHf(JSON.parse(fs.readFileSync(file, 'utf8')), file);
};

const base = {
  architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 256, intermediate_size: 512, head_dim: 128,
  num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 1024, rope_theta: 1000000,
  max_position_embeddings: 131072,
};

function close(a: ArrayLike<number>, b: ArrayLike<number>, rel = 1e-6): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= rel * Math.abs(b[i]!), `[${i}] ${a[i]} vs ${b[i]}`);
}

const arange = (n: number, step = 1) => Array.from({ length: n }, (_, i) => i * step);

describe('YaRN (Qwen3 long context)', () => {
  const c = configFromHf({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }, 'c.json');

  test('frequencies: transformers _compute_yarn_parameters', () => {
    const dim = 128, theta = 1e6, factor = 4, orig = 32768;
    const findCorrectionDim = (rot: number) => (dim * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
    const low = Math.max(Math.floor(findCorrectionDim(32)), 0);
    const high = Math.min(Math.ceil(findCorrectionDim(1)), dim - 1);
    const ramp = arange(dim / 2).map((i) => Math.min(1, Math.max(0, (i - low) / (high - low))));
    const extrapolationFactor = ramp.map((r) => 1 - r);
    const posFreqs = arange(dim / 2, 2).map((i) => theta ** (i / dim));
    const want = posFreqs.map((p, i) => (1 / (factor * p)) * (1 - extrapolationFactor[i]!) + (1 / p) * extrapolationFactor[i]!);
    close(ropeInvFreq(c), want);
    // The band really is blended: the first pairs kept, the last interpolated.
    assert.ok(low > 0 && high < dim / 2);
  });

  test('given an original context, the factor is max_position_embeddings / original, as transformers reads it', () => {
    const qwen3Docs = configFromHf({ ...base, max_position_embeddings: 40960, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }, 'c.json');
    assert.equal(qwen3Docs.ropeScaling?.type === 'yarn' && qwen3Docs.ropeScaling.factor, 1.25);
    const noOriginal = configFromHf({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'c.json');
    assert.equal(noOriginal.ropeScaling?.type === 'yarn' && noOriginal.ropeScaling.factor, 4);
  });

  test('attention factor 0.1·ln(factor) + 1, or the one the config gives', () => {
    assert.equal(ropeTables(c).scale, 0.1 * Math.log(4) + 1);
    const given = configFromHf({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, attention_factor: 1.5 } }, 'c.json');
    assert.equal(ropeTables(given).scale, 1.5);
  });

  test('GGUF keys (rope.scaling.type yarn) give the same tables back', () => {
    const back = roundTrip(c);
    assert.deepEqual(back.ropeScaling && { ...back.ropeScaling }, { ...c.ropeScaling });
    close(ropeInvFreq(back), ropeInvFreq(c), 1e-7);
  });

  test('mscale and mscale_all_dim are refused by name', () => {
    assert.throws(() => configFromHf({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, mscale: 0.7 } }, 'c.json'), /mscale is not supported/);
  });
});

describe('dynamic NTK', () => {
  const scaling = { rope_type: 'dynamic', factor: 2, original_max_position_embeddings: 4096 };

  test('theta raised as transformers _compute_dynamic_ntk_parameters at the served context', () => {
    const c = configFromHf({ ...base, max_position_embeddings: 16384, rope_scaling: scaling }, 'c.json');
    const dim = 128, seqLen = 16384;
    const newBase = 1e6 * ((2 * seqLen) / 4096 - (2 - 1)) ** (dim / (dim - 2));
    close(ropeInvFreq(c), arange(dim / 2, 2).map((i) => 1 / newBase ** (i / dim)));
  });

  test('the served context becomes factor × original; within the original the frequencies are the plain ones', () => {
    const c = configFromHf({ ...base, max_position_embeddings: 4096, rope_scaling: scaling }, 'c.json');
    assert.equal(c.maxPositionEmbeddings, 8192);
    close(ropeInvFreq(c, 4096), arange(64, 2).map((i) => 1 / 1e6 ** (i / 128)));
  });

  test('a GGUF cannot carry it: saving refuses by name', () => {
    const c = configFromHf({ ...base, rope_scaling: scaling }, 'c.json');
    assert.throws(() => ggufMetadataFor(c), /dynamic NTK rope scaling has no GGUF equivalent/);
  });
});

describe('LongRoPE and partial rotary (Phi-4-mini)', () => {
  const phi = readConfig('Phi-4-mini-instruct');

  test('the published config: 96 of 128 dims turn, 48 factors, attention factor sqrt(1 + ln 32 / ln 4096)', () => {
    assert.equal(phi.architecture, 'phi3');
    assert.equal(phi.rotaryDim, 96);
    const rs = phi.ropeScaling;
    assert.ok(rs?.type === 'longrope');
    assert.equal(rs.longFactor.length, 48);
    assert.equal(rs.originalMaxPositionEmbeddings, 4096);
    assert.equal(rs.attentionFactor, Math.sqrt(1 + Math.log(32) / Math.log(4096)));
  });

  test('long factors past the original context, short ones within it (llama.cpp get_rope_factors)', () => {
    const rs = phi.ropeScaling as Extract<ModelConfig['ropeScaling'], { type: 'longrope' }>;
    const plain = arange(48, 2).map((i) => 1 / 10000 ** (i / 96));
    close(ropeInvFreq(phi), plain.map((f, j) => f / rs.longFactor[j]!));
    close(ropeInvFreq(phi, 4096), plain.map((f, j) => f / rs.shortFactor[j]!));
  });

  test('applyRope turns the first rotaryDim dims (pairs j, j + rot/2) scaled, and passes the rest', () => {
    const heads = 2, headDim = 8, rot = 6, scale = 1.25;
    const invFreq = Float32Array.from([0.5, 0.25, 0.125]);
    const positions = Int32Array.from([3, 7]);
    const x = Float32Array.from(arange(2 * heads * headDim).map((i) => Math.sin(i + 1)));
    const got = Float32Array.from(x);
    applyRope(referenceKernels, got, positions, heads, headDim, { invFreq, rotaryDim: rot, scale }, 'neox', (n) => new Float32Array(n));
    for (let t = 0; t < 2; t++) {
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * headDim;
        for (let j = 0; j < rot / 2; j++) {
          const a = positions[t]! * invFreq[j]!;
          const x0 = x[o + j]!, x1 = x[o + j + rot / 2]!;
          assert.ok(Math.abs(got[o + j]! - scale * (x0 * Math.cos(a) - x1 * Math.sin(a))) < 1e-5);
          assert.ok(Math.abs(got[o + j + rot / 2]! - scale * (x1 * Math.cos(a) + x0 * Math.sin(a))) < 1e-5);
        }
        for (let i = rot; i < headDim; i++) assert.equal(got[o + i], x[o + i]);
      }
    }
  });

  test('GGUF (rope_factors_long/short tensors, attn_factor) gives the same tables back', () => {
    const small = { ...phi, numLayers: 1, vocabSize: 16, bosTokenId: null, eosTokenIds: [] };
    const back = roundTrip(small);
    assert.equal(back.rotaryDim, 96);
    close(ropeInvFreq(back), ropeInvFreq(small), 1e-6); // the factors travel as f32
    assert.ok(Math.abs(ropeTables(back).scale - ropeTables(small).scale) < 1e-7);
  });

  test('other classes refuse partial_rotary_factor, and longrope factors of the wrong length are refused', () => {
    assert.throws(() => configFromHf({ ...base, partial_rotary_factor: 0.5 }, 'c.json'), /partial_rotary_factor 0.5 for qwen3 is not supported/);
    const json = JSON.parse(fs.readFileSync(path.join(CONFIGS, 'Phi-4-mini-instruct.json'), 'utf8')) as Record<string, unknown>;
    assert.throws(() => configFromHf({ ...json, partial_rotary_factor: 0.5 }, 'c.json'), /short_factor has 48 values, expected 32/);
    assert.throws(() => configFromHf({ ...json, lm_head_bias: true }, 'c.json'), /lm_head_bias is not supported/);
    assert.throws(() => configFromHf({ ...json, rope_scaling: { ...(json.rope_scaling as object), long_mscale: 1.2 } }, 'c.json'), /long_mscale is not supported/);
  });
});

describe('the other published configs parse as their families', () => {
  test('OLMo-2-0425-1B, SmolLM3-3B', () => {
    const olmo = readConfig('OLMo-2-0425-1B');
    assert.equal(olmo.architecture, 'olmo2');
    assert.equal(olmo.qkNorm, true);
    const smol = readConfig('SmolLM3-3B');
    assert.equal(smol.architecture, 'smollm3');
    assert.deepEqual(smol.noRopeLayers, arange(9).map((i) => 4 * i + 3));
  });
});

describe('SmolLM3 NoPE layers', () => {
  const full = readConfig('SmolLM3-3B');
  const smol = { ...full, numLayers: 8, noRopeLayers: full.noRopeLayers!.filter((l) => l < 8), vocabSize: 16, eosTokenIds: [] };

  test('a GGUF carries no list (llama.cpp fixes every 4th layer): that pattern round-trips, another is refused by name', () => {
    assert.deepEqual(roundTrip(smol).noRopeLayers, [3, 7]);
    assert.throws(() => ggufMetadataFor({ ...smol, noRopeLayers: [1] }), /no-RoPE layers 1 have no GGUF equivalent for smollm3 \(llama.cpp: 3, 7\)/);
  });

  test('no_rope_layers outside SmolLM3, or of the wrong length, are refused', () => {
    assert.throws(() => configFromHf({ ...base, no_rope_layers: [1, 0] }, 'c.json'), /no_rope_layers for qwen3 is not supported/);
    const json = JSON.parse(fs.readFileSync(path.join(CONFIGS, 'SmolLM3-3B.json'), 'utf8')) as Record<string, unknown>;
    assert.throws(() => configFromHf({ ...json, no_rope_layers: [1, 1, 1, 0] }, 'c.json'), /no_rope_layers has 4 entries for 36 layers/);
  });
});

/** The config written as GGUF metadata and tensors (no weights) and read back. */
function roundTrip(c: ModelConfig): ModelConfig {
  const meta = ggufMetadataFor(c);
  const tensors = hfToGgufTensors(c, []);
  meta.set(`${c.architecture}.vocab_size`, { type: 'u32', value: c.vocabSize });
  return configFromGguf(meta, 'm.gguf', new MemoryTensorStore('m.gguf', tensors));
}
