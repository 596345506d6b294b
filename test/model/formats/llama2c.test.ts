// llama2.c variants beyond the shipped legacy files: the v1 "ak42" export, a legacy export with
// a separate classifier, and how the tokenizer beside a checkpoint is found. The variant files
// are rebuilt here from stories260K's arrays in the order karpathy's export.py writes them.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { TensorStore } from '../../../src/model/formats/tensor.js';
import { openModelFiles } from '../../../src/model/model-files.js';
import { scratchDir, SHARED_MODELS } from './fixtures.js';

const BIN = path.join(SHARED_MODELS, 'stories260K/stories260K.bin');
const LAYERS = 5;

function layerArrays(store: TensorStore, leaf: string): Uint8Array[] {
  return Array.from({ length: LAYERS }, (_, i) => store.read(`model.layers.${i}.${leaf}`).data);
}

/** export.py version1_export: magic, version, 7 ints, shared flag, zero pad to 256, then the arrays. */
function v1Bytes(store: TensorStore, shared: boolean, classifier?: Uint8Array): Buffer {
  const header = Buffer.alloc(256);
  header.writeUInt32LE(0x616b3432, 0);
  header.writeInt32LE(1, 4);
  [64, 172, 5, 8, 4, 512, 512].forEach((v, i) => header.writeInt32LE(v, 8 + 4 * i));
  header.writeUInt8(shared ? 1 : 0, 36);
  const arrays = [
    ...layerArrays(store, 'input_layernorm.weight'),
    ...layerArrays(store, 'post_attention_layernorm.weight'),
    store.read('model.norm.weight').data,
    store.read('model.embed_tokens.weight').data,
    ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].flatMap((p) => layerArrays(store, `self_attn.${p}.weight`)),
    ...['gate_proj', 'down_proj', 'up_proj'].flatMap((p) => layerArrays(store, `mlp.${p}.weight`)),
    ...(classifier ? [classifier] : []),
  ];
  return Buffer.concat([header, ...arrays]);
}

describe('llama2.c formats', () => {
  const legacy = openModelFiles(BIN);
  const names = legacy.tensors.names();

  test('a v1 ("ak42") export of the same weights reads the same', (t) => {
    const p = path.join(scratchDir(t), 'stories260K-v1.bin');
    fs.writeFileSync(p, v1Bytes(legacy.tensors, true));
    const v1 = openModelFiles(p);
    try {
      assert.equal(v1.format, 'llama2c');
      assert.deepEqual(v1.config, legacy.config);
      assert.deepEqual(v1.tensors.names().sort(), [...names].sort());
      for (const n of names) assert.deepEqual(v1.tensors.read(n), legacy.tensors.read(n), n);
    } finally {
      v1.tensors.close();
    }
  });

  test('a separate classifier becomes lm_head (v1 flag and legacy negative vocab)', (t) => {
    const dir = scratchDir(t);
    const cls = Uint8Array.from(legacy.tensors.read('model.embed_tokens.weight').data, (b, i) => (i % 4 === 3 ? b ^ 0x80 : b));
    const v1Path = path.join(dir, 'v1-cls.bin');
    fs.writeFileSync(v1Path, v1Bytes(legacy.tensors, false, cls));
    // Legacy: the same file as stories260K.bin with vocab negated and wcls appended after the RoPE tables.
    const v0 = Buffer.concat([fs.readFileSync(BIN), cls]);
    v0.writeInt32LE(-512, 20);
    const v0Path = path.join(dir, 'v0-cls.bin');
    fs.writeFileSync(v0Path, v0);
    for (const p of [v1Path, v0Path]) {
      const m = openModelFiles(p);
      try {
        assert.equal(m.config.tieWordEmbeddings, false, p);
        assert.equal(m.config.vocabSize, 512, p);
        assert.deepEqual(m.tensors.read('lm_head.weight').data, cls, p);
        assert.deepEqual(m.tensors.read('model.norm.weight').data, legacy.tensors.read('model.norm.weight').data, p);
      } finally {
        m.tensors.close();
      }
    }
  });

  test('the tokenizer beside a checkpoint: tok<vocab>.bin, else tokenizer.bin, else none', (t) => {
    const dir = scratchDir(t);
    const p = path.join(dir, 'model.bin');
    fs.copyFileSync(BIN, p);
    const tokenizerOf = (): string | undefined => {
      const m = openModelFiles(p);
      m.tensors.close();
      return m.llama2cTokenizer;
    };
    assert.equal(tokenizerOf(), undefined);
    fs.writeFileSync(path.join(dir, 'tok999.bin'), '');
    assert.equal(tokenizerOf(), path.join(dir, 'tok999.bin'));
    fs.writeFileSync(path.join(dir, 'tokenizer.bin'), '');
    assert.equal(tokenizerOf(), path.join(dir, 'tokenizer.bin'));
    fs.writeFileSync(path.join(dir, 'tok512.bin'), '');
    assert.equal(tokenizerOf(), path.join(dir, 'tok512.bin'));
  });

  test('run.c conventions: BOS 1, EOS 2, eps 1e-5, theta 10000, consecutive-pair RoPE', () => {
    const c = legacy.config;
    assert.deepEqual([c.bosTokenId, c.eosTokenIds, c.rmsNormEps, c.ropeTheta, c.ropeStyle], [1, [2], 1e-5, 10000, 'interleaved']);
  });

  test('closing', () => {
    legacy.tensors.close();
    assert.throws(() => legacy.tensors.read(names[0]!), /after close/);
  });
});
