// Dequantization of every ggml type against vectors made by ggml itself (libggml-base's
// dequantize_row_*, cross-checked with gguf-py's quants.py when the fixture was made; see
// fixtures/make-quant-vectors.py): the f32 bits must be equal, not close.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BLOCK_FORMATS, byteSize, QUANT_DTYPES, toFloat32, type TensorDType } from '../../src/kernels/dtype.js';

interface Vector {
  count: number;
  blocks: string;
  values: string;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/quant-vectors.json', import.meta.url), 'utf8')) as {
  types: Record<string, Vector>;
};

const fromBase64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe('toFloat32 equals ggml bit for bit', () => {
  it('has a vector for every quantized type', () => {
    assert.deepEqual(QUANT_DTYPES.filter((t) => !fixture.types[t]), []);
  });

  for (const [name, v] of Object.entries(fixture.types)) {
    it(name, () => {
      const dtype = name as TensorDType;
      const blocks = fromBase64(v.blocks);
      assert.equal(byteSize(dtype, v.count), blocks.byteLength);
      const got = new Uint32Array(toFloat32(dtype, blocks, v.count).buffer);
      const want = new Uint32Array(fromBase64(v.values).slice().buffer);
      const bad = [...got.keys()].filter((i) => got[i] !== want[i]);
      assert.equal(bad.length, 0, `${bad.length} values differ, first at ${bad[0]}: got 0x${got[bad[0]!]?.toString(16)}, want 0x${want[bad[0]!]?.toString(16)}`);
    });
  }

  it('rejects a count that is not whole blocks', () => {
    for (const t of QUANT_DTYPES) assert.throws(() => byteSize(t, BLOCK_FORMATS[t].values + 1), /multiple of/);
  });
});
