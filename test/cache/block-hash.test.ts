import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extendHashChain, hashBlockTokens, hashChain } from '../../src/cache/block-hash.js';

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

test('the same tokens give the same hashes, 128 bits of hex', () => {
  const a = hashChain(range(40), 16, 'm');
  const b = hashChain(range(40), 16, 'm');
  assert.deepEqual(a, b);
  assert.match(a[0]!, /^[0-9a-f]{32}$/);
});

test('only full blocks are hashed', () => {
  assert.equal(hashChain(range(15), 16, 'm').length, 0);
  assert.equal(hashChain(range(16), 16, 'm').length, 1);
  assert.equal(hashChain(range(47), 16, 'm').length, 2);
});

test('a change in block 0 changes every later hash; a change in block 2 leaves blocks 0 and 1', () => {
  const base = hashChain(range(64), 16, 'm');
  const early = range(64);
  early[3] = 999;
  const e = hashChain(early, 16, 'm');
  for (let b = 0; b < 4; b++) assert.notEqual(e[b], base[b], `block ${b}`);
  const late = range(64);
  late[40] = 999;
  const l = hashChain(late, 16, 'm');
  assert.deepEqual(l.slice(0, 2), base.slice(0, 2));
  assert.notEqual(l[2], base[2]);
  assert.notEqual(l[3], base[3]);
});

test('the same block under a different parent hashes differently', () => {
  const tokens = range(16, 100);
  assert.notEqual(hashBlockTokens(null, tokens, 'm'), hashBlockTokens(hashBlockTokens(null, range(16), 'm'), tokens, 'm'));
});

test('the salt separates models', () => {
  assert.notDeepEqual(hashChain(range(32), 16, 'model-a'), hashChain(range(32), 16, 'model-b'));
  // Field boundaries are unambiguous: salt "a" + parent null is not salt "" + anything.
  assert.notEqual(hashBlockTokens(null, [1], 'a'), hashBlockTokens(null, [1], ''));
});

test('extending a chain matches hashing the whole list, and pays only for new blocks', () => {
  const tokens = range(80);
  const chain = extendHashChain([], tokens.slice(0, 33), 16, 's');
  assert.equal(chain.length, 2);
  extendHashChain(chain, tokens, 16, 's', 4);
  assert.deepEqual(chain, hashChain(tokens, 16, 's').slice(0, 4));
  extendHashChain(chain, tokens, 16, 's');
  assert.deepEqual(chain, hashChain(tokens, 16, 's'));
});

test('token ids must be 32-bit unsigned integers', () => {
  assert.throws(() => hashBlockTokens(null, [1.5], ''), RangeError);
  assert.throws(() => hashBlockTokens(null, [-1], ''), RangeError);
});
