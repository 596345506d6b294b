// safetensors specifics: the writer's layout (alignment, order, metadata) and sharded models
// opened through model.safetensors.index.json.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { hfConfigJson } from '../../../src/model/config.js';
import { ModelLoadError } from '../../../src/model/errors.js';
import { openSafetensors } from '../../../src/model/formats/safetensors.js';
import { writeSafetensors } from '../../../src/model/formats/safetensors-writer.js';
import type { RawTensor } from '../../../src/model/formats/tensor.js';
import { openModelFiles } from '../../../src/model/model-files.js';
import { randomTensors } from '../../../src/model/random-model.js';
import { scaledConfig, scratchDir, SHARED_MODELS } from './fixtures.js';

const CONFIG = scaledConfig('Qwen2.5-0.5B-Instruct.json', { numLayers: 2, headDim: 8, intermediateSize: 64, vocabSize: 128 });

describe('safetensors writer', () => {
  test('data starts 8-aligned, tensors are ordered by element size then name, metadata kept', (t) => {
    const p = path.join(scratchDir(t), 'mixed.safetensors');
    const tensors: RawTensor[] = [
      { name: 'b', dtype: 'bf16', shape: [3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) },
      { name: 'z', dtype: 'f32', shape: [1], data: Uint8Array.from([7, 8, 9, 10]) },
      { name: 'a', dtype: 'f16', shape: [1, 1], data: Uint8Array.from([11, 12]) },
      { name: 'c', dtype: 'f32', shape: [2], data: Uint8Array.from({ length: 8 }, (_, i) => 20 + i) },
    ];
    writeSafetensors(p, tensors, { format: 'pt' });
    const bytes = fs.readFileSync(p);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + n));
    assert.deepEqual(Object.keys(header), ['__metadata__', 'c', 'z', 'a', 'b']);
    assert.deepEqual(header.c.data_offsets, [0, 8]);
    assert.deepEqual(header.b, { dtype: 'BF16', shape: [3], data_offsets: [14, 20] });
    const s = openSafetensors(p);
    try {
      assert.deepEqual(s.metadata, { format: 'pt' });
      for (const want of tensors) assert.deepEqual(s.tensors.read(want.name), want);
    } finally {
      s.tensors.close();
    }
    assert.throws(() => writeSafetensors(p, [{ name: 'q', dtype: 'q8_0', shape: [32], data: new Uint8Array(34) }]), /cannot hold q8_0/);
  });

  test('reads the shipped stories260K-hf header (5,000 bytes, 47 F32 tensors)', () => {
    const s = openSafetensors(path.join(SHARED_MODELS, 'stories260K-hf/model.safetensors'));
    try {
      assert.equal(s.tensors.names().length, 47);
      assert.match(s.metadata.source ?? '', /stories260K/);
    } finally {
      s.tensors.close();
    }
  });
});

describe('sharded safetensors', () => {
  function shardedDir(t: { after: (fn: () => void) => void }): [dir: string, tensors: RawTensor[]] {
    const dir = scratchDir(t);
    const tensors = randomTensors(CONFIG, { seed: 4, dtype: 'bf16' });
    const shards = [tensors.filter((_, i) => i % 2 === 0), tensors.filter((_, i) => i % 2 === 1)];
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(path.join(dir, file), shard);
      for (const x of shard) weightMap[x.name] = file;
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigJson(CONFIG)));
    return [dir, tensors];
  }

  test('all shards open as one store', (t) => {
    const [dir, tensors] = shardedDir(t);
    const m = openModelFiles(dir);
    try {
      assert.equal(m.format, 'safetensors');
      assert.deepEqual(m.config, CONFIG);
      assert.equal(m.tensors.names().length, tensors.length);
      for (const want of tensors) assert.deepEqual(m.tensors.read(want.name), want);
    } finally {
      m.tensors.close();
    }
  });

  test('a file inside the directory opens the directory', (t) => {
    const [dir] = shardedDir(t);
    const given = path.join(dir, 'model-00001-of-00002.safetensors');
    const m = openModelFiles(given);
    m.tensors.close();
    assert.equal(m.path, given);
    assert.equal(m.hfDir, dir);
  });

  test('a missing shard, and an index that points at the wrong shard', (t) => {
    const [dir] = shardedDir(t);
    const index = path.join(dir, 'model.safetensors.index.json');
    const json = JSON.parse(fs.readFileSync(index, 'utf8'));
    const [first] = Object.keys(json.weight_map);
    json.weight_map[first!] = json.weight_map[first!] === 'model-00001-of-00002.safetensors' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    fs.writeFileSync(index, JSON.stringify(json));
    assert.throws(() => openModelFiles(dir), (e: unknown) => e instanceof ModelLoadError && e.message === `${index}: tensor ${first} is not in its shard ${json.weight_map[first!]}`);
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    const missing = path.join(dir, 'model-00002-of-00002.safetensors');
    assert.throws(() => openModelFiles(dir), (e: unknown) => e instanceof ModelLoadError && e.message === `${missing}: no such file or directory`);
  });
});
