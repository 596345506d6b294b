// The demo model's byte tokenizer: id = byte + 3 after <unk>, <s>, </s>.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byteTokenizer } from '../../../src/model/tokenizer/byte.js';

const tok = byteTokenizer();

test('layout: 259 ids, BOS 1 added by default, EOS 2', () => {
  assert.equal(tok.vocabSize, 259);
  assert.equal(tok.bosId, 1);
  assert.deepEqual(tok.eosIds, [2]);
  assert.equal(tok.addBos, true);
  assert.deepEqual(tok.encode('Hi'), [1, 0x48 + 3, 0x69 + 3]);
  assert.deepEqual(tok.encode('', { addBos: false }), []);
});

test('multibyte text round-trips through its UTF-8 bytes', () => {
  for (const text of ['héllo', '你好', '🦙 😶‍🌫️', 'a\u0000b']) {
    const ids = tok.encode(text, { addBos: false });
    assert.deepEqual(ids, Array.from(new TextEncoder().encode(text), (b) => b + 3));
    assert.equal(tok.decode(ids), text);
  }
  assert.equal(tok.decode([0xf0 + 3, 0x9f + 3]), '\uFFFD');
});

test('special tokens: parsed from text when asked, shown or skipped in decode', () => {
  assert.deepEqual(tok.encode('a</s>', { addBos: false }), [0x61 + 3, 2]);
  assert.equal(tok.encode('a</s>', { addBos: false, parseSpecial: false }).length, 5);
  assert.equal(tok.decode([1, 0x61 + 3, 2]), '<s>a</s>');
  assert.equal(tok.decode([1, 0x61 + 3, 2], { skipSpecial: true }), 'a');
  assert.ok(tok.isSpecial(0) && tok.isSpecial(2) && !tok.isSpecial(3));
  assert.equal(tok.tokenId('<s>'), 1);
  assert.equal(tok.tokenId('<0x41>'), 0x41 + 3);
  assert.equal(tok.tokenId('A'), undefined);
});
