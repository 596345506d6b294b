// Native CRC-32C against the TS reference on every ISA path (the SSE4.2 three-stream path
// runs on avx2/avx512, the slicing-by-8 tables on scalar): the standard check value, lengths
// around the 8-byte words and the 24 KiB three-stream rounds, odd alignments, and
// continuation (crc of a‖b = crc of b continuing crc of a).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon } from '../../src/kernels/native.js';
import { crc32c } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';
import { forEachIsa } from './isa.js';

after(() => addon.setMaxIsa('avx512'));

describe('crc32c', () => {
  it('gives the standard check value of "123456789"', () => {
    const data = new TextEncoder().encode('123456789');
    assert.equal(crc32c(data), 0xe3069283);
    forEachIsa((isa) => assert.equal(addon.crc32c(data), 0xe3069283, isa));
  });

  it('matches the reference on random bytes of every length class and alignment', () => {
    const rng = mulberry32(11);
    const big = new Uint8Array(3 * 24576 + 1000);
    for (let i = 0; i < big.length; i++) big[i] = Math.floor(rng() * 256);
    forEachIsa((isa) => {
      for (const n of [0, 1, 7, 8, 9, 63, 4096, 24575, 24576, 24577, 3 * 24576, 3 * 24576 + 999]) {
        for (const off of [0, 1, 3]) {
          if (off + n > big.length) continue;
          const view = big.subarray(off, off + n);
          assert.equal(addon.crc32c(view), crc32c(view), `${isa} length ${n} offset ${off}`);
        }
      }
    });
  });

  it('continues a crc across pieces, and any flipped bit changes it', () => {
    const rng = mulberry32(12);
    const data = new Uint8Array(262144);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng() * 256);
    forEachIsa((isa) => {
      const whole = addon.crc32c(data);
      assert.equal(addon.crc32c(data.subarray(100000), addon.crc32c(data.subarray(0, 100000))), whole, isa);
      for (const bit of [0, 8 * 77777 + 3, 8 * data.length - 1]) {
        data[bit >> 3]! ^= 1 << (bit & 7);
        assert.notEqual(addon.crc32c(data), whole, `${isa} bit ${bit}`);
        data[bit >> 3]! ^= 1 << (bit & 7);
      }
    });
  });
});
