// KvCache's gathers and scatters (the tiers' swap-outs and swap-ins) against the gathered layout
// written out element by element: [layer][K, V][block in the order given][kvHead][token][dim],
// with runs of consecutive blocks and scattered ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelConfig } from '../../src/model/config.js';
import { KvCache, type KvDType } from '../../src/model/kv-cache.js';

const config = { numLayers: 3, numKvHeads: 2, headDim: 8 } as ModelConfig;
const BLOCK = 4;

/** A cache whose every value is distinct (bf16: the low 16 bits of a counter). */
function filled(dtype: KvDType): KvCache {
  const kv = new KvCache(config, 12, BLOCK, dtype);
  let x = 1;
  for (const { k, v } of kv.layers) for (const pool of [k, v]) for (let i = 0; i < pool.length; i++) pool[i] = dtype === 'bf16' ? x++ & 0xffff : x++;
  return kv;
}

/** The gathered values of `blocks`, built element by element. */
function expected(kv: KvCache, blocks: number[]): number[] {
  const out: number[] = [];
  for (const { k, v } of kv.layers) for (const pool of [k, v]) for (const b of blocks) for (let i = 0; i < kv.blockFloats; i++) out.push(pool[b * kv.blockFloats + i]!);
  return out;
}

for (const dtype of ['f32', 'bf16'] as const) {
  test(`${dtype}: gatherBlocks lays out runs and scattered blocks alike, in the order given`, () => {
    const kv = filled(dtype);
    for (const blocks of [[3], [4, 5, 6], [9, 2, 3, 11, 0], [7, 6, 5]]) {
      const out = kv.newPool(kv.gatheredFloats(blocks.length));
      kv.gatherBlocks(blocks, out);
      assert.deepEqual(Array.from(out), expected(kv, blocks), `blocks ${blocks}`);
    }
  });

  test(`${dtype}: scatterBlocks writes its blocks and nothing else, the inverse of gatherBlocks`, () => {
    const source = filled(dtype);
    const kv = new KvCache(config, 12, BLOCK, dtype);
    const copies = [[1, 2], [10], [5, 4, 8]].map((blocks, j) => {
      const values = source.newPool(source.gatheredFloats(blocks.length));
      source.gatherBlocks([[0, 1], [2], [3, 6, 7]][j]!, values);
      kv.scatterBlocks(blocks, values);
      return { blocks, values };
    });
    for (const { blocks, values } of copies) assert.deepEqual(expected(kv, blocks), Array.from(values), `blocks ${blocks}`);
    assert.ok(expected(kv, [0, 3, 6, 7, 9, 11]).every((x) => x === 0), 'blocks no copy named stay zero');
  });
}

test('the copies are checked: block ids, buffer sizes and dtypes', () => {
  const kv = filled('f32');
  assert.throws(() => kv.scatterBlocks([12], kv.newPool(kv.gatheredFloats(1))), /no block 12/);
  assert.throws(() => kv.scatterBlocks([1, 2], kv.newPool(kv.gatheredFloats(1))), /buffer of \d+ floats, \d+ needed/);
  assert.throws(() => kv.gatherBlocks([1], new Uint16Array(kv.gatheredFloats(1))), /Uint16Array for a f32 KV cache/);
});
