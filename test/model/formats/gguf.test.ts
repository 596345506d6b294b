// GGUF specifics beyond the round trips: every metadata type survives write+read with its type,
// 64-bit integers come back as numbers when exact and bigints otherwise, alignment is honoured,
// and the metadata-only parts of the config (scaling keys, head size, end-of-turn ids) parse.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ModelLoadError } from '../../../src/model/errors.js';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { ggufMetadataFor, hfToGgufTensors } from '../../../src/model/formats/gguf-convert.js';
import {
  ggufNumber, ggufPlainMetadata, ggufStringArray, type GgufValue,
} from '../../../src/model/formats/gguf-types.js';
import { writeGguf } from '../../../src/model/formats/gguf-writer.js';
import { openModelFiles } from '../../../src/model/model-files.js';
import { randomTensors } from '../../../src/model/random-model.js';
import { scaledConfig, scratchDir, SHARED_MODELS } from './fixtures.js';

const ALL_TYPES = new Map<string, GgufValue>([
  ['t.u8', { type: 'u8', value: 255 }],
  ['t.i8', { type: 'i8', value: -128 }],
  ['t.u16', { type: 'u16', value: 65535 }],
  ['t.i16', { type: 'i16', value: -32768 }],
  ['t.u32', { type: 'u32', value: 4294967295 }],
  ['t.i32', { type: 'i32', value: -2147483648 }],
  ['t.f32', { type: 'f32', value: 0.5 }],
  ['t.bool', { type: 'bool', value: true }],
  ['t.string', { type: 'string', value: 'héllo ▁world' }],
  ['t.u64.small', { type: 'u64', value: 2 ** 53 - 1 }],
  ['t.u64.big', { type: 'u64', value: 2n ** 64n - 1n }],
  ['t.i64', { type: 'i64', value: -(2n ** 62n) }],
  ['t.f64', { type: 'f64', value: Math.PI }],
  ['t.array.string', { type: 'array', itemType: 'string', value: ['a', '', '<s>'] }],
  ['t.array.i32', { type: 'array', itemType: 'i32', value: [1, -2, 3] }],
  ['t.array.f32', { type: 'array', itemType: 'f32', value: [0.25, -1.5] }],
  ['t.array.bool', { type: 'array', itemType: 'bool', value: [false, true] }],
  ['t.array.u64', { type: 'array', itemType: 'u64', value: [1, 2n ** 63n] }],
  ['t.array.empty', { type: 'array', itemType: 'u8', value: [] }],
]);

describe('GGUF metadata', () => {
  test('every value type is read back with its type', (t) => {
    const p = path.join(scratchDir(t), 'meta.gguf');
    writeGguf(p, ALL_TYPES, []);
    const g = readGguf(p);
    g.tensors.close();
    assert.equal(g.version, 3);
    assert.deepEqual(g.metadata, ALL_TYPES);
    assert.equal(typeof g.metadata.get('t.u64.small')!.value, 'number');
    assert.equal(typeof g.metadata.get('t.u64.big')!.value, 'bigint');
  });

  test('the header starts as the spec says: magic, version 3, tensor and KV counts', (t) => {
    const p = path.join(scratchDir(t), 'head.gguf');
    writeGguf(p, new Map([['a', { type: 'u8', value: 7 }]]), [{ name: 'x', dtype: 'f32', shape: [2], data: new Uint8Array(8) }]);
    const b = fs.readFileSync(p);
    assert.equal(b.toString('latin1', 0, 4), 'GGUF');
    assert.deepEqual([b.readUInt32LE(4), Number(b.readBigUInt64LE(8)), Number(b.readBigUInt64LE(16))], [3, 1, 1]);
    // key "a": u64 length 1, 'a', u32 type 0 (u8), value 7
    assert.deepEqual([Number(b.readBigUInt64LE(24)), b.toString('latin1', 32, 33), b.readUInt32LE(33), b[37]], [1, 'a', 0, 7]);
    // 24 + KV (8+1+4+1) + tensor info (8+1+4+8+4+8) = 71 bytes, padded to 96, then 8 bytes of data.
    assert.equal(b.length, 96 + 8);
  });

  test('general.alignment places every tensor on its boundary', (t) => {
    const p = path.join(scratchDir(t), 'aligned.gguf');
    const meta = new Map<string, GgufValue>([['general.alignment', { type: 'u32', value: 64 }]]);
    const tensors = [3, 5, 7].map((n, i) => ({
      name: `t${i}`, dtype: 'f16' as const, shape: [n], data: Uint8Array.from({ length: 2 * n }, (_, k) => k + i),
    }));
    writeGguf(p, meta, tensors);
    const g = readGguf(p);
    try {
      assert.equal(g.alignment, 64);
      assert.equal(g.dataOffset % 64, 0);
      for (const info of g.tensorInfos) assert.equal(info.offset % 64, 0, info.ggufName);
      for (const want of tensors) assert.deepEqual(g.tensors.read(want.name).data, want.data);
    } finally {
      g.tensors.close();
    }
  });

  test('nested arrays are refused by name', (t) => {
    const p = path.join(scratchDir(t), 'nested.gguf');
    const b = Buffer.alloc(24 + 8 + 1 + 4 + 4 + 8);
    b.write('GGUF', 0, 'latin1');
    b.writeUInt32LE(3, 4);
    b.writeBigUInt64LE(0n, 8);
    b.writeBigUInt64LE(1n, 16);
    b.writeBigUInt64LE(1n, 24);
    b.write('n', 32, 'latin1');
    b.writeUInt32LE(9, 33);
    b.writeUInt32LE(9, 37);
    b.writeBigUInt64LE(0n, 41);
    fs.writeFileSync(p, b);
    assert.throws(() => readGguf(p), (e: unknown) => e instanceof ModelLoadError && /metadata n is a nested array/.test(e.message));
  });

  test('typed accessors and the plain view', () => {
    const g = readGguf(path.join(SHARED_MODELS, 'stories260K/stories260K.gguf'));
    g.tensors.close();
    const tokens = ggufStringArray(g.metadata, 'tokenizer.ggml.tokens', 'f')!;
    assert.equal(tokens.length, 512);
    assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.equal(ggufNumber(g.metadata, 'tokenizer.ggml.padding_token_id', 'f'), 0xffffffff);
    assert.throws(() => ggufNumber(g.metadata, 'general.name', 'f'), /f: metadata general.name should be a number, found string/);
    const plain = ggufPlainMetadata(g.metadata);
    assert.equal(plain.get('general.architecture'), 'llama');
    assert.equal((plain.get('tokenizer.ggml.scores') as number[]).length, 512);
  });
});

describe('GGUF config keys', () => {
  const llama = scaledConfig('TinyLlama-1.1B-Chat-v1.0.json', { numLayers: 1, headDim: 8, intermediateSize: 64, vocabSize: 64 });

  function reopen(dir: string, meta: Map<string, GgufValue>, config = llama): ReturnType<typeof openModelFiles> {
    const p = path.join(dir, `m${fs.readdirSync(dir).length}.gguf`);
    writeGguf(p, meta, hfToGgufTensors(config, randomTensors(config, { seed: 1, dtype: 'f32' })));
    return openModelFiles(p);
  }

  test('linear scaling, including the legacy rope.scale_linear key', (t) => {
    const dir = scratchDir(t);
    const meta = ggufMetadataFor({ ...llama, ropeScaling: { type: 'linear', factor: 4 } });
    assert.equal(meta.get('llama.rope.scaling.type')?.value, 'linear');
    let m = reopen(dir, meta);
    assert.deepEqual(m.config.ropeScaling, { type: 'linear', factor: 4 });
    m.tensors.close();
    const legacy = ggufMetadataFor(llama);
    legacy.set('llama.rope.scale_linear', { type: 'f32', value: 2 });
    m = reopen(dir, legacy);
    assert.deepEqual(m.config.ropeScaling, { type: 'linear', factor: 2 });
    m.tensors.close();
    const yarn = ggufMetadataFor(llama);
    yarn.set('llama.rope.scaling.type', { type: 'string', value: 'yarn' });
    assert.throws(() => reopen(dir, yarn), /rope.scaling.type is yarn but no factor is given/);
    const other = ggufMetadataFor(llama);
    other.set('llama.rope.scaling.type', { type: 'string', value: 'longrope' });
    assert.throws(() => reopen(dir, other), /rope scaling type longrope is not supported/);
  });

  test('end-of-turn ids join eos; a head size other than hidden/heads travels as key_length', (t) => {
    const dir = scratchDir(t);
    const config = { ...llama, headDim: 16, eosTokenIds: [2, 7, 9] };
    const meta = ggufMetadataFor(config);
    assert.equal(meta.get('llama.attention.key_length')?.value, 16);
    assert.equal(meta.get('tokenizer.ggml.eot_token_id')?.value, 7);
    const m = reopen(dir, meta, config);
    assert.equal(m.config.headDim, 16);
    assert.deepEqual(m.config.eosTokenIds, [2, 7, 9]);
    m.tensors.close();
    const partial = ggufMetadataFor(config);
    partial.set('llama.rope.dimension_count', { type: 'u32', value: 8 });
    const p = reopen(dir, partial, config);
    assert.equal(p.config.rotaryDim, 8); // the leading 8 dims of each head turn (rope.ts)
    p.tensors.close();
  });

  test('missing required keys are named', (t) => {
    const meta = ggufMetadataFor(llama);
    meta.delete('llama.block_count');
    assert.throws(() => reopen(scratchDir(t), meta), /metadata llama.block_count is missing/);
  });
});
