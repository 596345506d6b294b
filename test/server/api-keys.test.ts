// The --api-keys file format and the key ring: parsing refuses what it cannot read (and a file
// with no keys, which would leave the server open); matching takes whole keys only, each to the
// owner of its tenant.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyRing, parseApiKeys } from '../../src/server/api-keys.js';

test('the key file format: KEY [NAME] per line, # comments and blank lines skipped', () => {
  const text = '# tenants\n\nsk-a1 alice\n  sk-a2\talice  \r\nsk-b bob\nsk-c\n';
  assert.deepEqual(parseApiKeys(text, 'keys.txt'), [
    { key: 'sk-a1', name: 'alice' },
    { key: 'sk-a2', name: 'alice' },
    { key: 'sk-b', name: 'bob' },
    { key: 'sk-c', name: null },
  ]);
  assert.throws(() => parseApiKeys('# only a comment\n\n', 'keys.txt'), /keys.txt: no API keys/);
  assert.throws(() => parseApiKeys('sk-a alice\nsk-a bob\n', 'keys.txt'), /keys.txt:2: this key is already listed/);
  assert.throws(() => parseApiKeys('sk-a alice smith\n', 'keys.txt'), /keys.txt:1: expected 'KEY \[NAME\]'/);
  assert.throws(() => parseApiKeys('sk-a sha256:abc\n', 'keys.txt'), /keys.txt:1: a name must be/);
  assert.throws(() => parseApiKeys('sk-é alice\n', 'keys.txt'), /keys.txt:1: a key must be visible ASCII/);
});

test('keys are matched whole, each to its owner', () => {
  const single = KeyRing.single('k1');
  assert.deepEqual(single.match('k1'), { owner: null });
  assert.equal(single.match('k'), undefined);
  assert.equal(single.match('k11'), undefined);
  const ring = KeyRing.tenants([{ key: 'ka', name: 'alice' }, { key: 'kb', name: null }, { key: 'ka2', name: 'alice' }]);
  assert.deepEqual(ring.match('ka'), { owner: 'alice' });
  assert.deepEqual(ring.match('ka2'), { owner: 'alice' });
  assert.match(ring.match('kb')!.owner!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(ring.match(''), undefined);
  // What a server's options give: open, one ownerless key, or tenants; never both kinds at once.
  assert.equal(KeyRing.from(undefined, undefined), null);
  assert.equal(KeyRing.from('', []), null);
  assert.deepEqual(KeyRing.from('k1', undefined)?.match('k1'), { owner: null });
  assert.deepEqual(KeyRing.from(undefined, [{ key: 'ka', name: 'alice' }])?.match('ka'), { owner: 'alice' });
  assert.throws(() => KeyRing.from('k1', [{ key: 'ka', name: 'alice' }]), /not both/);
});
