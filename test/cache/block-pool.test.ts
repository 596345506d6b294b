import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockPool } from '../../src/cache/block-pool.js';

const free = (p: BlockPool) => [...p.freeBlockIds()];

test('allocate hands out free blocks with ref count 1; free returns them', () => {
  const p = new BlockPool(4);
  const ids = p.allocate(3)!;
  assert.deepEqual(ids, [0, 1, 2]);
  for (const id of ids) assert.equal(p.refCount(id), 1);
  assert.equal(p.numFree, 1);
  assert.equal(p.numUsed, 3);
  assert.equal(p.usage(), 0.75);
  p.free([1]);
  assert.equal(p.refCount(1), 0);
  assert.ok(p.isFree(1));
  assert.equal(p.numFree, 2);
});

test('exhausting the pool: allocate returns null and takes nothing', () => {
  const p = new BlockPool(3);
  assert.ok(p.allocate(2));
  assert.equal(p.allocate(2), null);
  assert.equal(p.numFree, 1);
  assert.deepEqual(p.allocate(1), [2]);
  assert.equal(p.allocate(1), null);
  assert.deepEqual(p.allocate(0), []);
});

test('ref counts: touch adds holders, a block is free only when the last lets go', () => {
  const p = new BlockPool(2);
  const [a] = p.allocate(1)!;
  p.touch([a!, a!]);
  assert.equal(p.refCount(a!), 3);
  p.free([a!]);
  p.free([a!]);
  assert.ok(!p.isFree(a!));
  p.free([a!]);
  assert.ok(p.isFree(a!));
  assert.throws(() => p.free([a!]), /not held/);
});

test('the free queue is LRU for cached blocks and puts anonymous blocks first', () => {
  const p = new BlockPool(5);
  const ids = p.allocate(5)!;
  p.cacheBlock(ids[0]!, 'h0');
  p.cacheBlock(ids[1]!, 'h1');
  p.cacheBlock(ids[2]!, 'h2');
  p.free([ids[1]!, ids[0]!, ids[3]!, ids[2]!, ids[4]!]);
  // Anonymous 3 and 4 went to the front (4 last, so first); cached ones in freeing order.
  assert.deepEqual(free(p), [4, 3, 1, 0, 2]);
  assert.equal(p.numCachedFree, 3);
  assert.deepEqual(p.allocate(3), [4, 3, 1]);
  assert.equal(p.lookup('h1'), undefined, 'a cached block handed out again loses its hash');
  assert.equal(p.hashOf(1), null);
  assert.equal(p.lookup('h0'), 0);
  assert.equal(p.numCachedFree, 2);
});

test('a cached free block is found by hash and revived off the queue', () => {
  const p = new BlockPool(3);
  const [a, b] = p.allocate(2)!;
  p.cacheBlock(a!, 'ha');
  p.cacheBlock(b!, 'hb');
  p.free([b!, a!]);
  assert.equal(p.lookup('ha'), a);
  p.touch([a!]);
  assert.equal(p.refCount(a!), 1);
  assert.equal(p.numFree, 2);
  assert.deepEqual(free(p), [2, b]);
  assert.equal(p.numCachedFree, 1);
  // Revived, it is not handed out by allocate.
  assert.deepEqual(p.allocate(2)!.sort(), [2, b].sort());
  assert.equal(p.allocate(1), null);
  assert.equal(p.lookup('ha'), a);
});

test('one block per content: a second block with the same hash stays anonymous', () => {
  const p = new BlockPool(2);
  const [a, b] = p.allocate(2)!;
  assert.equal(p.cacheBlock(a!, 'h'), true);
  assert.equal(p.cacheBlock(b!, 'h'), false);
  assert.equal(p.hashOf(b!), null);
  assert.equal(p.cacheBlock(a!, 'h'), true, 'caching the same content again is a no-op');
  assert.throws(() => p.cacheBlock(a!, 'other'), /other content/);
});

test('uncache forgets a held block before it is written over', () => {
  const p = new BlockPool(2);
  const [a] = p.allocate(1)!;
  p.cacheBlock(a!, 'h');
  p.uncache(a!);
  assert.equal(p.lookup('h'), undefined);
  p.free([a!]);
  assert.equal(p.numCachedFree, 0);
  assert.equal(free(p)[0], a, 'anonymous again, so reused first');
});

test('bad ids and sizes are refused', () => {
  assert.throws(() => new BlockPool(0), RangeError);
  const p = new BlockPool(2);
  assert.throws(() => p.refCount(2), RangeError);
  assert.throws(() => p.touch([-1]), RangeError);
  assert.throws(() => p.cacheBlock(0, 'h'), /free/);
});
