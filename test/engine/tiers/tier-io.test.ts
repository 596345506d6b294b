// TierIo on a small KvCache: every transfer moves exactly the bytes of the blocks it
// names, disk bytes stay in RAM only while a write is in flight or a read waits to be
// used, and a failed check comes back as a lost slot.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import type { ChunkMeta } from '../../../src/cache/chunk-transfer.js';
import type { ModelConfig } from '../../../src/model/config.js';
import { KvCache } from '../../../src/model/kv-cache.js';
import { DiskTier } from '../../../src/engine/tiers/disk-tier.js';
import { HostTier } from '../../../src/engine/tiers/host-tier.js';
import { TierIo } from '../../../src/engine/tiers/tier-io.js';
import { tempDir } from './helpers.js';

const config = { numLayers: 2, numKvHeads: 2, headDim: 4 } as ModelConfig;

function setup(landedCap?: number) {
  const kv = new KvCache(config, 8, 16);
  kv.layers.forEach((l, li) => {
    l.k.forEach((_, i) => (l.k[i] = li * 1e6 + i));
    l.v.forEach((_, i) => (l.v[i] = -(li * 1e6 + i)));
  });
  const host = new HostTier(kv, 2, 2);
  const { tier: disk } = DiskTier.open({ dir: tempDir('pensieve-io-'), capacity: 4, modelId: 'm', layout: { numLayers: 2, numKvHeads: 2, headDim: 4, blockSize: 16, dtype: 'f32' }, blocksPerChunk: 2, spareBytes: 1 << 20 });
  const io = new TierIo(kv, host, disk, () => {}, landedCap);
  return { kv, host, disk, io };
}

const meta = (c: number): ChunkMeta => ({ conversationId: 'c', chunkIndex: c, numTokens: 32, tokenHash: `h${c}`, lastAccess: 0 });
const blockData = (kv: KvCache, ids: number[]) => {
  const out = new Float32Array(kv.gatheredFloats(ids.length));
  kv.gatherBlocks(ids, out);
  return out;
};

test('device → host → device and device → disk → device copy exactly the named blocks', async () => {
  const { kv, io, disk } = setup();
  const a = blockData(kv, [1, 2]);
  const b = blockData(kv, [3, 4]);
  io.execute([{ op: 'save', blocks: [1, 2], to: 'host', slot: 1, chunk: meta(0) }, { op: 'save', blocks: [3, 4], to: 'disk', slot: 2, chunk: meta(1) }]);
  assert.equal(io.stats().pendingWrites, 1);
  assert.ok(io.isLoaded(2), 'a disk chunk is readable from RAM while its write is in flight');
  await disk.idle();
  await io.nextCompletion();
  assert.equal(io.isLoaded(2), false, 'after the write lands the file is the copy');
  assert.equal(io.stats().stagingBytes, 0);
  io.prefetch(2, meta(1));
  assert.ok(io.isReading(2));
  await io.nextCompletion();
  assert.ok(io.isLoaded(2));
  io.execute([{ op: 'load', from: 'host', slot: 1, blocks: [6, 5], chunk: meta(0) }, { op: 'load', from: 'disk', slot: 2, blocks: [0, 7], chunk: meta(1) }]);
  assert.deepEqual(blockData(kv, [6, 5]), a);
  assert.deepEqual(blockData(kv, [0, 7]), b);
  // The read's array went back to the disk tier: the next read lands in it, and the blocks
  // it was scattered into keep their values.
  io.prefetch(2, meta(1));
  await io.nextCompletion();
  io.execute([{ op: 'load', from: 'disk', slot: 2, blocks: [1, 3], chunk: meta(1) }]);
  assert.deepEqual(blockData(kv, [1, 3]), b);
  assert.deepEqual(blockData(kv, [0, 7]), b);
  assert.equal(io.stats().stagingBytes, 0, 'a read that was used is dropped from RAM');
  const s = io.stats();
  assert.equal(s.swapOutBytes.host, a.byteLength);
  assert.equal(s.swapInBytes.disk, 2 * b.byteLength);
  assert.equal(s.syncReads, 0);
});

test('a host chunk demoted to disk reads back the same; a released disk slot loses its file', async () => {
  const { kv, io, disk } = setup();
  const a = blockData(kv, [5]);
  io.execute([{ op: 'save', blocks: [5], to: 'host', slot: 0, chunk: { ...meta(3), numTokens: 10 } }]);
  io.execute([{ op: 'demote', hostSlot: 0, slot: 3, chunk: { ...meta(3), numTokens: 10 } }]);
  await disk.idle();
  await io.nextCompletion();
  io.prefetch(3, { ...meta(3), numTokens: 10 });
  await io.nextCompletion();
  io.execute([{ op: 'load', from: 'disk', slot: 3, blocks: [2], chunk: { ...meta(3), numTokens: 10 } }]);
  assert.deepEqual(blockData(kv, [2]), a);
  io.execute([{ op: 'release', tier: 'disk', slot: 3 }]);
  await disk.idle();
  assert.equal(fs.existsSync(disk.pathOf(3)), false);
  assert.equal(disk.bytesOnDisk, 0);
});

test('a corrupt file is reported lost, not loaded', async () => {
  const { io, disk } = setup();
  io.execute([{ op: 'save', blocks: [1, 2], to: 'disk', slot: 0, chunk: meta(0) }]);
  await disk.idle();
  await io.nextCompletion();
  const bytes = fs.readFileSync(disk.pathOf(0));
  bytes[bytes.length - 1]! ^= 0x40;
  fs.writeFileSync(disk.pathOf(0), bytes);
  io.prefetch(0, meta(0));
  await io.nextCompletion();
  assert.equal(io.isLoaded(0), false);
  assert.deepEqual(io.takeLost(), [{ tier: 'disk', slot: 0, why: 'checksum mismatch' }]);
  assert.equal(io.stats().diskErrors, 1);
});

test('landed reads nobody used are kept up to the cap, oldest dropped first', async () => {
  const chunkBytes = new KvCache(config, 1, 16).gatheredFloats(2) * Float32Array.BYTES_PER_ELEMENT;
  const { io, disk } = setup(2 * chunkBytes);
  io.execute([0, 1, 2].map((s) => ({ op: 'save' as const, blocks: [s, s + 1], to: 'disk' as const, slot: s, chunk: meta(s) })));
  await disk.idle();
  await io.nextCompletion();
  for (const s of [0, 1, 2]) {
    io.prefetch(s, meta(s));
    await io.nextCompletion();
  }
  assert.deepEqual([0, 1, 2].map((s) => io.isLoaded(s)), [false, true, true]);
  assert.equal(io.stats().stagingBytes, 2 * chunkBytes);
});
