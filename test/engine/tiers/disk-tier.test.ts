// The disk tier's files: what is written reads back bit for bit; anything that is not
// exactly the expected chunk of this model (other model, other layout, other version,
// other tokens, torn or flipped payload) is refused, and refused at start-up when the
// header already says so.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ChunkMeta } from '../../../src/cache/chunk-transfer.js';
import { CHUNK_FILE_VERSION, HEADER_BYTES, type KvLayout } from '../../../src/engine/tiers/chunk-file.js';
import { DiskTier } from '../../../src/engine/tiers/disk-tier.js';
import { tempDir } from './helpers.js';

const layout: KvLayout = { numLayers: 2, numKvHeads: 2, headDim: 4, blockSize: 16, dtype: 'f32' };
const floatsPerBlock = 2 * 2 * 2 * 16 * 4;
const meta = (c: number, hash = `h${c}`): ChunkMeta => ({ conversationId: 'conv-1', chunkIndex: c, numTokens: 32, tokenHash: hash, lastAccess: 1234 });
const payload = (seed: number, blocks = 2) => Float32Array.from({ length: blocks * floatsPerBlock }, (_, i) => Math.sin(seed * 1000 + i));

function open(dir: string, overrides: Partial<Parameters<typeof DiskTier.open>[0]> = {}) {
  return DiskTier.open({ dir, capacity: 8, modelId: 'model-a', layout, blocksPerChunk: 2, ...overrides });
}

test('a chunk written to a slot reads back identical, and its header is found at start-up', async () => {
  const dir = tempDir('pensieve-disk-');
  const { tier, scan } = open(dir);
  assert.deepEqual(scan, { persisted: [], discarded: 0 });
  await tier.write(3, meta(5), payload(1), 2);
  await tier.write(4, { ...meta(6), numTokens: 10 }, payload(2, 1), 1); // a short last chunk
  assert.deepEqual(await tier.read(3, meta(5)), payload(1));
  assert.deepEqual(await tier.read(4, { ...meta(6), numTokens: 10 }), payload(2, 1));
  assert.equal(tier.bytesOnDisk, 2 * HEADER_BYTES + 3 * floatsPerBlock * 4);
  assert.ok(tier.bytesOnDisk <= 2 * DiskTier.slotBytesFor(layout, 2));

  const again = open(dir);
  const found = again.scan.persisted.sort((a, b) => a.slot - b.slot);
  assert.deepEqual(found, [
    { conversationId: 'conv-1', chunkIndex: 5, slot: 3, numTokens: 32, tokenHash: 'h5', lastAccess: 1234 },
    { conversationId: 'conv-1', chunkIndex: 6, slot: 4, numTokens: 10, tokenHash: 'h6', lastAccess: 1234 },
  ]);
  assert.equal(again.tier.bytesOnDisk, tier.bytesOnDisk);
  await again.tier.remove(3);
  assert.equal(fs.existsSync(again.tier.pathOf(3)), false);
});

test('operations on one slot run in order: write, read, remove, write again', async () => {
  const { tier } = open(tempDir('pensieve-disk-'));
  const w1 = tier.write(0, meta(0), payload(1), 2);
  const r1 = tier.read(0, meta(0));
  const rm = tier.remove(0);
  const r2 = tier.read(0, meta(0));
  const w2 = tier.write(0, meta(1), payload(2), 2);
  const r3 = tier.read(0, meta(1));
  await Promise.all([w1, rm, w2]);
  assert.deepEqual(await r1, payload(1));
  assert.match(String(await r2), /unreadable/);
  assert.deepEqual(await r3, payload(2));
  await tier.idle();
});

test('a chunk of other tokens, or with a flipped or torn payload, is refused', async () => {
  const { tier } = open(tempDir('pensieve-disk-'));
  await tier.write(1, meta(1), payload(1), 2);
  assert.match(String(await tier.read(1, meta(1, 'other'))), /other tokens/);
  assert.match(String(await tier.read(1, meta(2))), /expected 2/);
  // Content-addressed: another conversation with the same tokens reads it.
  assert.ok(typeof (await tier.read(1, { ...meta(1), conversationId: 'conv-2' })) !== 'string');
  const file = tier.pathOf(1);
  const bytes = fs.readFileSync(file);
  bytes[HEADER_BYTES + 17]! ^= 1;
  fs.writeFileSync(file, bytes);
  assert.equal(await tier.read(1, meta(1)), 'checksum mismatch');
  assert.equal(tier.readSync(1, meta(1)), 'checksum mismatch');
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 4));
  assert.match(String(await tier.read(1, meta(1))), /truncated/);
});

test('at start-up, files of another model, layout or format version, stray files and slots past capacity are deleted', async () => {
  const dir = tempDir('pensieve-disk-');
  const a = open(dir).tier;
  await a.write(0, meta(0), payload(1), 2);
  await a.write(7, meta(7), payload(7), 2);
  // Another model's files live in a directory of their own and are left alone.
  const b = open(dir, { modelId: 'model-b' }).tier;
  await b.write(0, meta(0), payload(1), 2);
  assert.notEqual(a.dir, b.dir);
  // Inside a's directory: a foreign file, a file claiming model b, an old format version.
  fs.writeFileSync(path.join(a.dir, 'notes.txt'), 'hello');
  fs.copyFileSync(b.pathOf(0), a.pathOf(1));
  const old = fs.readFileSync(a.pathOf(0));
  old.writeUInt32LE(CHUNK_FILE_VERSION + 1, 8);
  fs.writeFileSync(a.pathOf(2), old);
  fs.writeFileSync(`${a.pathOf(3)}.tmp`, 'torn');

  const reopened = open(dir, { capacity: 4 });
  assert.deepEqual(reopened.scan.persisted.map((p) => p.slot), [0]);
  assert.equal(reopened.scan.discarded, 5); // slot 7 (past capacity), notes, model b, version, tmp
  assert.deepEqual(fs.readdirSync(a.dir), ['slot-0.kv']);
  assert.equal(open(dir, { modelId: 'model-b' }).scan.persisted.length, 1);
  // Another layout (another model shape under the same id) is refused too.
  assert.equal(open(dir, { layout: { ...layout, headDim: 8 } }).scan.discarded, 1);
});

test('a recycled payload array receives the next full read; short chunks, other arrays and arrays past spareBytes are not kept', async () => {
  const full = 2 * floatsPerBlock * 4;
  const { tier } = open(tempDir('pensieve-disk-'), { spareBytes: 2 * full });
  for (let s = 0; s < 4; s++) await tier.write(s, meta(s), payload(s), 2);
  await tier.write(5, { ...meta(5), numTokens: 10 }, payload(5, 1), 1);
  const first = (await tier.read(0, meta(0))) as Float32Array;
  assert.deepEqual(first, payload(0));
  tier.recycle(first);
  const second = await tier.read(1, meta(1));
  assert.equal(second, first, 'the recycled array is the one the next read fills');
  assert.deepEqual(second, payload(1));
  // A short chunk's read never takes a full-chunk array, and arrays that are views, of the
  // other dtype or past the byte cap are dropped.
  tier.recycle(second as Float32Array);
  const short = await tier.read(5, { ...meta(5), numTokens: 10 });
  assert.notEqual(short, second);
  assert.deepEqual(short, payload(5, 1));
  tier.recycle(new Float32Array(new ArrayBuffer(full + 4), 4, full / 4));
  tier.recycle(new Uint16Array(full / 2));
  const a = new Float32Array(full / 4), b = new Float32Array(full / 4);
  tier.recycle(a);
  tier.recycle(b);
  const reads = await Promise.all([2, 3, 0].map((s) => tier.read(s, meta(s))));
  assert.deepEqual(reads, [payload(2), payload(3), payload(0)]);
  assert.deepEqual([reads[0] === a || reads[0] === second, reads[1] === a || reads[1] === second], [true, true], 'the two kept arrays, newest first');
  assert.ok(reads[2] !== a && reads[2] !== b && reads[2] !== second, 'b was past the 2-chunk cap');
  // Without spareBytes nothing is kept.
  const { tier: none } = open(tempDir('pensieve-disk-'));
  await none.write(0, meta(0), payload(0), 2);
  const x = (await none.read(0, meta(0))) as Float32Array;
  none.recycle(x);
  assert.notEqual(await none.read(0, meta(0)), x);
});
