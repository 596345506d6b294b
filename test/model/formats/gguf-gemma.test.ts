// Gemma's GGUF keys as llama.cpp reads them (src/models/gemma2.cpp, gemma3.cpp): what each key
// sets, llama.cpp's defaults for absent keys, the attention scale it derives from the layer count,
// and what is refused by name.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configFromHf, type ModelConfig } from '../../../src/model/config.js';
import { ModelLoadError } from '../../../src/model/errors.js';
import { configFromGguf } from '../../../src/model/formats/gguf-config.js';
import { ggufMetadataFor } from '../../../src/model/formats/gguf-convert.js';
import type { GgufMetadata, GgufValue } from '../../../src/model/formats/gguf-types.js';
import { MemoryTensorStore } from '../../../src/model/formats/memory-tensor-store.js';

const embedding = (vocab: number, hidden: number) =>
  new MemoryTensorStore('m.gguf', [{ name: 'model.embed_tokens.weight', dtype: 'f32', shape: [vocab, hidden], data: new Uint8Array(0) }]);

function hf(json: Record<string, unknown>): ModelConfig {
  return configFromHf({
    hidden_size: 256, intermediate_size: 512, head_dim: 64, num_hidden_layers: 6, num_attention_heads: 4, num_key_value_heads: 2,
    vocab_size: 128, query_pre_attn_scalar: 64, ...json,
  }, 'config.json');
}

function edited(meta: GgufMetadata, drop: string[], add: [string, GgufValue][] = []): GgufMetadata {
  const m = new Map(meta);
  for (const k of drop) m.delete(k);
  for (const [k, v] of add) m.set(k, v);
  return m;
}

describe('configFromGguf for gemma2 and gemma3', () => {
  test('a config written as GGUF reads back as itself, but for the norms\' offset', () => {
    for (const json of [
      { architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', sliding_window: 32, attn_logit_softcapping: 40, final_logit_softcapping: 20 },
      { architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', sliding_window: 32, rope_theta: 1e6, rope_local_base_freq: 20000, rope_scaling: { rope_type: 'linear', factor: 8 } },
    ]) {
      const c = hf(json);
      const { normWeightOffset, ...rest } = c;
      assert.equal(normWeightOffset, 1);
      assert.deepEqual(configFromGguf(ggufMetadataFor(c), 'm.gguf', embedding(128, 256)), rest);
    }
  });

  test('absent keys take llama.cpp\'s defaults: Gemma 2 window 4096 every other layer, caps 50 and 30; Gemma 3 without a window has none', () => {
    const g2 = ggufMetadataFor(hf({ architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2' }));
    const c2 = configFromGguf(edited(g2, ['gemma2.attention.sliding_window', 'gemma2.attn_logit_softcapping', 'gemma2.final_logit_softcapping']), 'm.gguf', embedding(128, 256));
    assert.deepEqual([c2.slidingWindow, c2.attnLogitSoftcap, c2.finalLogitSoftcap], [{ size: 4096, pattern: 2 }, 50, 30]);
    const g3 = ggufMetadataFor(hf({ architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', sliding_window: 16 }));
    const c3 = configFromGguf(edited(g3, ['gemma3.attention.sliding_window', 'gemma3.rope.freq_base_swa']), 'm.gguf', embedding(128, 256));
    assert.deepEqual([c3.slidingWindow, c3.ropeLocalTheta, c3.finalLogitSoftcap], [undefined, undefined, undefined]);
    const c3w = configFromGguf(edited(g3, ['gemma3.rope.freq_base_swa']), 'm.gguf', embedding(128, 256));
    assert.deepEqual([c3w.slidingWindow, c3w.ropeLocalTheta], [{ size: 16, pattern: 6 }, 10000]);
  });

  test('the attention scale follows the layer count, as llama.cpp: hidden/heads for the 27B models (46 and 62 layers)', () => {
    // head_dim 32 and hidden/heads 64 tell the two rules apart.
    const gemma = (model_type: string, layers: number, scalar: number) =>
      hf({ architectures: [model_type === 'gemma2' ? 'Gemma2ForCausalLM' : 'Gemma3ForCausalLM'], model_type, num_hidden_layers: layers, head_dim: 32, query_pre_attn_scalar: scalar });
    for (const [type, big] of [['gemma2', 46], ['gemma3_text', 62]] as const) {
      assert.equal(configFromGguf(ggufMetadataFor(gemma(type, big, 64)), 'm.gguf', embedding(128, 256)).queryPreAttnScalar, 64);
      assert.equal(configFromGguf(ggufMetadataFor(gemma(type, 6, 32)), 'm.gguf', embedding(128, 256)).queryPreAttnScalar, 32);
      assert.throws(() => ggufMetadataFor(gemma(type, big, 32)), /no GGUF equivalent/);
      assert.throws(() => ggufMetadataFor(gemma(type, 6, 64)), /no GGUF equivalent/);
    }
  });

  test('a per-layer sliding_window_pattern array is refused by name', () => {
    const meta = edited(ggufMetadataFor(hf({ architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2' })), [],
      [['gemma2.attention.sliding_window_pattern', { type: 'array', itemType: 'bool', value: [true, false, true, false, true, false] }]]);
    assert.throws(() => configFromGguf(meta, 'm.gguf', embedding(128, 256)), (e: unknown) => e instanceof ModelLoadError && /per-layer gemma2\.attention\.sliding_window_pattern array is not supported/.test(e.message));
  });
});
