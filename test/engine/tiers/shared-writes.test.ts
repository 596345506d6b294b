// The shared tier's write queue and value checks, on a real redis-server and real chunk
// files: a write sends the file's exact bytes; a full queue drops its lowest-value write
// (the new one included) and sends the most valuable first; a key Redis has is skipped, a
// slot whose chunk changed is not sent; and a value read back is refused unless it is the
// expected chunk of this model and layout, intact.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { ChunkMeta } from '../../../src/cache/chunk-transfer.js';
import { HEADER_BYTES, chunkFileProblem, decodeChunkFile, type KvLayout } from '../../../src/engine/tiers/chunk-file.js';
import { DiskTier } from '../../../src/engine/tiers/disk-tier.js';
import { RedisClient } from '../../../src/engine/tiers/redis-client.js';
import { redisUrlForDisplay } from '../../../src/engine/tiers/redis-url.js';
import { SharedWrites } from '../../../src/engine/tiers/shared-writes.js';
import { NO_REDIS, startRedis, type RedisServer } from '../../helpers/redis.js';
import { tempDir } from './helpers.js';

const layout: KvLayout = { numLayers: 2, numKvHeads: 2, headDim: 4, blockSize: 16, dtype: 'f32' };
const floatsPerBlock = 2 * 2 * 2 * 16 * 4;
const meta = (c: number, hash = `h${c}`): ChunkMeta => ({ conversationId: 'conv-1', chunkIndex: c, numTokens: 32, tokenHash: hash, lastAccess: 1234 });
const payload = (seed: number) => Float32Array.from({ length: 2 * floatsPerBlock }, (_, i) => Math.sin(seed * 1000 + i));
const key = (hash: string) => `ns:${hash}`;

let redis: RedisServer;
let admin: Redis;

before(async () => {
  if (NO_REDIS) return;
  redis = await startRedis();
  admin = new Redis(redis.url);
});

after(async () => {
  if (NO_REDIS) return;
  admin.disconnect();
  await redis.stop();
});

test('writes: the file\'s bytes are sent, most valuable first; a full queue drops the lowest value; known keys and changed slots are skipped', { skip: NO_REDIS }, async () => {
  const { tier } = DiskTier.open({ dir: tempDir('pensieve-shared-writes-'), capacity: 8, modelId: 'model-a', layout, blocksPerChunk: 2 });
  for (let c = 0; c < 8; c++) await tier.write(c, meta(c), payload(c), 2);
  await admin.set(key('h5'), 'already there');
  // The real client, noting the order of its SETs.
  const sent: string[] = [];
  const client = new (class extends RedisClient {
    override async set(k: string, v: Buffer): Promise<void> {
      sent.push(k);
      await super.set(k, v);
    }
  })({ url: redis.url, commandTimeoutMs: 1000, warn: () => {} });
  assert.ok(await client.whenReady(2000));
  // One write at a time, two queued at most.
  const writes = new SharedWrites(client, tier, key, 2, 1000, 1);
  writes.offer({ slot: 0, meta: meta(0), value: 0 }); // sent at once
  writes.offer({ slot: 1, meta: meta(1), value: 5 });
  writes.offer({ slot: 2, meta: meta(2), value: 1 });
  writes.offer({ slot: 3, meta: meta(3), value: 3 }); // full: 2 (value 1) is dropped
  writes.offer({ slot: 4, meta: meta(4), value: 0.5 }); // full, and the lowest: itself dropped
  writes.offer({ slot: 1, meta: meta(1), value: 9 }); // queued already: once is enough
  assert.equal(writes.stats().dropped, 2);
  assert.ok(await writes.idle(performance.now() + 5000));
  writes.offer({ slot: 5, meta: meta(5), value: 1 }); // Redis has it
  writes.offer({ slot: 6, meta: meta(6, 'another'), value: 1 }); // the slot holds another chunk by now
  assert.ok(await writes.idle(performance.now() + 5000));
  const s = writes.stats();
  assert.deepEqual({ written: s.written, skipped: s.skipped, dropped: s.dropped, stale: s.stale, errors: s.errors, pending: s.pending },
    { written: 3, skipped: 1, dropped: 2, stale: 1, errors: 0, pending: 0 });
  assert.deepEqual(sent, ['ns:h0', 'ns:h1', 'ns:h3'], 'the queue sends its most valuable write first');
  for (const c of [0, 1, 3]) assert.deepEqual(await admin.getBuffer(key(`h${c}`)), fs.readFileSync(tier.pathOf(c)), `chunk ${c} went up byte for byte`);
  for (const c of [2, 4]) assert.equal(await admin.exists(key(`h${c}`)), 0, `chunk ${c} was dropped`);
  assert.equal(await admin.get(key('h5')), 'already there');
  assert.equal(s.writtenBytes, 3 * (HEADER_BYTES + 2 * floatsPerBlock * 4));
  await client.close();
});

test('a value is used only when it is the expected chunk of this model and layout, intact', async () => {
  const { tier } = DiskTier.open({ dir: tempDir('pensieve-shared-values-'), capacity: 2, modelId: 'model-a', layout, blocksPerChunk: 2 });
  await tier.write(0, meta(3), payload(3), 2);
  const bytes = fs.readFileSync(tier.pathOf(0));
  const decoded = decodeChunkFile(bytes, 'model-a', layout, meta(3));
  assert.ok(typeof decoded !== 'string');
  assert.deepEqual(decoded.payload, payload(3));
  // An offset the payload's floats cannot be read at in place: it is copied out.
  const shifted = Buffer.concat([Buffer.alloc(1), bytes]).subarray(1);
  assert.deepEqual((decodeChunkFile(shifted, 'model-a', layout, meta(3)) as { payload: Float32Array }).payload, payload(3));
  const flipped = Buffer.from(bytes);
  flipped[HEADER_BYTES + 9]! ^= 1;
  assert.equal(chunkFileProblem(flipped, 'model-a', layout, meta(3)), 'checksum mismatch');
  assert.match(String(chunkFileProblem(bytes.subarray(0, bytes.length - 4), 'model-a', layout, meta(3))), /truncated/);
  assert.match(String(chunkFileProblem(bytes, 'model-b', layout, meta(3))), /model model-a, expected model-b/);
  assert.equal(chunkFileProblem(bytes, 'model-a', { ...layout, dtype: 'bf16' }, meta(3)), 'another KV layout');
  assert.equal(chunkFileProblem(bytes, 'model-a', layout, meta(3, 'other')), 'other tokens');
  assert.equal(chunkFileProblem(bytes, 'model-a', layout, { ...meta(3), chunkIndex: 4 }), 'chunk 3, expected 4');
  assert.equal(chunkFileProblem(Buffer.from('not a chunk'), 'model-a', layout, meta(3)), 'not a chunk file');
  // What the disk tier sends is checked the same way.
  assert.deepEqual(await tier.readFile(0, meta(3)), bytes);
  assert.equal(await tier.readFile(0, meta(3, 'other')), 'other tokens');
});

test('--shared-kv URLs: redis:// or rediss:// with an optional database number; credentials stay out of logs', () => {
  assert.equal(redisUrlForDisplay('redis://127.0.0.1:6379/2'), 'redis://127.0.0.1:6379/2');
  assert.equal(redisUrlForDisplay('redis://user:secret@cache.internal:6380'), 'redis://cache.internal:6380');
  assert.throws(() => redisUrlForDisplay('http://127.0.0.1:6379'), /redis:\/\//);
  assert.throws(() => redisUrlForDisplay('127.0.0.1:6379'), /URL/);
  assert.throws(() => redisUrlForDisplay('redis://127.0.0.1:6379/kv'), /database number/);
});
