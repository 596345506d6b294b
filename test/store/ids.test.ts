// Routing keys in ids: the first 16 hex chars of every conversation and response id are its
// chain's key (what HAProxy hashes); the rest stays random, and ids made before keys existed
// read as their own key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRouteKey, newId, newRouteKey, routeKeyOf } from '../../src/store/index.js';

test('an id minted with a routing key starts with it and keeps 32 random hex chars after it', () => {
  const key = 'abcdef0123456789';
  const a = newId('resp', key);
  const b = newId('conv', key);
  assert.match(a, /^resp_abcdef0123456789[0-9a-f]{32}$/);
  assert.match(b, /^conv_abcdef0123456789[0-9a-f]{32}$/);
  assert.notEqual(a.slice(21), newId('resp', key).slice(21));
  assert.equal(routeKeyOf(a), key);
  assert.equal(routeKeyOf(b), key);
});

test('an id minted without a key has a random one, read back from its first 16 hex chars', () => {
  const id = newId('conv');
  assert.match(id, /^conv_[0-9a-f]{48}$/);
  assert.equal(routeKeyOf(id), id.slice(5, 21));
  assert.notEqual(routeKeyOf(newId('conv')), routeKeyOf(id));
});

test('ids made before routing keys (48 random hex chars) are their own key', () => {
  assert.equal(routeKeyOf('resp_0123456789abcdef0123456789abcdef0123456789abcdef'), '0123456789abcdef');
  assert.equal(routeKeyOf('msg_ffffffffffffffff00000000000000000000000000000000'), 'ffffffffffffffff');
});

test('ids of another shape carry no key', () => {
  for (const id of ['resp_short', 'conv_0123456789ABCDEF0123456789abcdef0123456789abcdef', 'resp_0123456789abcdef0123456789abcdef0123456789abcdef0', 'my-own-item', '_0123456789abcdef0123456789abcdef0123456789abcdef', '']) {
    assert.equal(routeKeyOf(id), undefined, id);
  }
});

test('a malformed routing key is refused when minting', () => {
  for (const key of ['ABCDEF0123456789', 'abc', '0123456789abcdef0', 'g123456789abcdef']) {
    assert.throws(() => newId('resp', key), /routing key/, key);
    assert.equal(isRouteKey(key), false);
  }
  const key = newRouteKey();
  assert.equal(isRouteKey(key), true);
  assert.notEqual(newRouteKey(), key);
});
