// stories260K exists as a llama2.c .bin, a ggml-org GGUF and a derived HF directory: the three
// readers must agree on the model, byte for byte where the files do.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hfToGgufTensors } from '../../../src/model/formats/gguf-convert.js';
import { type ModelFiles, openModelFiles } from '../../../src/model/model-files.js';
import { ggufRowsToHf, SHARED_MODELS as MODELS } from './fixtures.js';

const BIN = path.join(MODELS, 'stories260K/stories260K.bin');
const GGUF = path.join(MODELS, 'stories260K/stories260K.gguf');
const HF = path.join(MODELS, 'stories260K-hf');

describe('stories260K in three formats', () => {
  let bin: ModelFiles;
  let gguf: ModelFiles;
  let hf: ModelFiles;
  before(() => {
    bin = openModelFiles(BIN);
    gguf = openModelFiles(GGUF);
    hf = openModelFiles(HF);
  });
  after(() => {
    for (const m of [bin, gguf, hf]) m.tensors.close();
  });

  test('each format is detected', () => {
    assert.equal(bin.format, 'llama2c');
    assert.equal(gguf.format, 'gguf');
    assert.equal(hf.format, 'safetensors');
    assert.equal(hf.hfDir, HF);
    assert.equal(bin.llama2cTokenizer, path.join(MODELS, 'stories260K/tok512.bin'));
    assert.equal(gguf.ggufMetadata?.get('tokenizer.ggml.model')?.value, 'llama');
  });

  test('configs agree on the model shape', () => {
    const expected = {
      architecture: 'llama', hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8, numKvHeads: 4,
      headDim: 8, vocabSize: 512, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, attentionBias: false, qkNorm: false,
      bosTokenId: 1, eosTokenIds: [2],
    };
    for (const m of [bin, gguf, hf]) {
      const { ropeStyle, tieWordEmbeddings, maxPositionEmbeddings, ...shape } = m.config;
      assert.deepEqual(shape, expected, m.format);
    }
    // The files themselves differ here: the GGUF says context 2048 and stores output.weight.
    assert.deepEqual([bin.config.maxPositionEmbeddings, gguf.config.maxPositionEmbeddings, hf.config.maxPositionEmbeddings], [512, 2048, 512]);
    assert.deepEqual([bin.config.tieWordEmbeddings, gguf.config.tieWordEmbeddings, hf.config.tieWordEmbeddings], [true, false, true]);
    assert.deepEqual([bin.config.ropeStyle, gguf.config.ropeStyle, hf.config.ropeStyle], ['interleaved', 'interleaved', 'neox']);
  });

  test('every tensor is present with its HF shape', () => {
    assert.equal(bin.tensors.names().length, 47);
    assert.equal(hf.tensors.names().length, 47);
    assert.equal(gguf.tensors.names().length, 48);
    for (const name of bin.tensors.names()) {
      const info = bin.tensors.info(name)!;
      assert.deepEqual(gguf.tensors.info(name), info, name);
      assert.deepEqual(hf.tensors.info(name), info, name);
    }
    assert.deepEqual(bin.tensors.info('model.layers.4.self_attn.k_proj.weight')?.shape, [32, 64]);
    assert.deepEqual(bin.tensors.info('model.layers.0.mlp.down_proj.weight')?.shape, [64, 172]);
    assert.deepEqual(gguf.tensors.info('lm_head.weight')?.shape, [512, 64]);
  });

  test('.bin and .gguf tensors are byte-identical', () => {
    for (const name of bin.tensors.names()) {
      assert.deepEqual(gguf.tensors.read(name).data, bin.tensors.read(name).data, name);
    }
    assert.deepEqual(gguf.tensors.read('lm_head.weight').data, bin.tensors.read('model.embed_tokens.weight').data);
  });

  test('safetensors q/k are the .bin rows in rotate-half order; the rest is identical', () => {
    let permuted = 0;
    for (const name of bin.tensors.names()) {
      const b = bin.tensors.read(name);
      const h = hf.tensors.read(name);
      const heads = name.endsWith('q_proj.weight') ? 8 : name.endsWith('k_proj.weight') ? 4 : 0;
      if (heads) {
        assert.notDeepEqual(h.data, b.data, `${name} should be permuted`);
        // README §1d: the HF rows are the llama2.c (= GGUF) consecutive-pair rows in rotate-half order.
        assert.deepEqual(h.data, ggufRowsToHf(b.data, b.shape[0]!, heads), name);
        permuted++;
      } else {
        assert.deepEqual(h.data, b.data, name);
      }
    }
    assert.equal(permuted, 10);
  });

  test('converting the HF directory as llama.cpp would reproduces the ggml-org GGUF tensors', () => {
    const hfTensors = hf.tensors.names().map((n) => hf.tensors.read(n));
    const converted = hfToGgufTensors(hf.config, hfTensors);
    assert.equal(converted.length, 47);
    const ggufFile = openModelFiles(GGUF);
    try {
      converted.forEach((t, i) => {
        const hfName = hfTensors[i]!.name;
        assert.deepEqual(t.data, ggufFile.tensors.read(hfName).data, `${t.name} (${hfName})`);
      });
    } finally {
      ggufFile.tensors.close();
    }
    assert.equal(converted.find((t) => t.name === 'blk.2.attn_k.weight')?.shape.join(), '32,64');
  });
});

describe('aidreams260K', () => {
  test('loads as plain multi-head attention with head size 16 and 128 positions', () => {
    const m = openModelFiles(path.join(MODELS, 'aidreams260K/aidreams260K.bin'));
    try {
      assert.equal(m.format, 'llama2c');
      const c = m.config;
      assert.deepEqual(
        [c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.vocabSize, c.maxPositionEmbeddings, c.tieWordEmbeddings],
        [64, 172, 4, 4, 4, 16, 512, 128, true],
      );
      assert.deepEqual(m.tensors.info('model.layers.3.self_attn.k_proj.weight')?.shape, [64, 64]);
      assert.equal(m.tensors.names().length, 1 + 4 * 9 + 1);
      assert.equal(m.llama2cTokenizer, path.join(MODELS, 'aidreams260K/tok512.bin'));
      // The last array before the skipped RoPE tables is the final norm: real weights, not zeros.
      const norm = new Float32Array(m.tensors.read('model.norm.weight').data.buffer);
      assert.ok(norm.some((v) => v !== 0) && norm.every(Number.isFinite));
    } finally {
      m.tensors.close();
    }
  });
});
