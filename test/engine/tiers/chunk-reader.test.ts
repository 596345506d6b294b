// The disk tier's batched chunk-file reader (native/chunk_read.cc through chunk-reader.ts):
// reads asked for in one turn of the loop land together, each file's bytes in its three
// buffers in order, the payload's CRC-32C equal to the TypeScript reference, and a missing,
// short or long file reported as such, never mixed up with its neighbours in the batch.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readChunkFile, type ChunkReadBuffers } from '../../../src/engine/tiers/chunk-reader.js';
import { crc32c as crc32cReference } from '../../../src/kernels/reference.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-chunk-reader-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: number, seed: number): { path: string; data: Uint8Array } {
  const data = new Uint8Array(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return { path: p, data };
}

const buffers = (header: number, payload: number): ChunkReadBuffers => ({
  header: new Uint8Array(header), payload: new Uint8Array(payload), extra: new Uint8Array(1),
});

test('reads asked for together land in their own buffers, checksummed', async () => {
  const files = Array.from({ length: 9 }, (_, i) => file(`c${i}`, 64 + 1000 + 37 * i, i + 1));
  const bufs = files.map((_, i) => buffers(64, 1000 + 37 * i));
  const results = await Promise.all(files.map((f, i) => readChunkFile(f.path, bufs[i]!)));
  results.forEach((r, i) => {
    assert.ok(!('error' in r), JSON.stringify(r));
    assert.equal(r.bytesRead, files[i]!.data.length);
    assert.deepEqual(bufs[i]!.header, files[i]!.data.subarray(0, 64));
    assert.deepEqual(bufs[i]!.payload, files[i]!.data.subarray(64));
    assert.equal(r.crc, crc32cReference(files[i]!.data.subarray(64)));
  });
});

test('a missing file is an error naming it; its neighbours in the batch still read', async () => {
  const good = file('good', 64 + 4096, 7);
  const [missing, ok] = await Promise.all([
    readChunkFile(path.join(dir, 'nope'), buffers(64, 4096)),
    readChunkFile(good.path, buffers(64, 4096)),
  ]);
  assert.ok('error' in missing && /ENOENT/.test(missing.error) && missing.error.includes('nope'), JSON.stringify(missing));
  assert.ok(!('error' in ok) && ok.bytesRead === good.data.length);
});

test('a short file reads short and a long one fills the spare byte: the counts tell', async () => {
  const short = file('short', 64 + 100, 3);
  const long = file('long', 64 + 200 + 5, 4);
  const shortBufs = buffers(64, 200);
  const longBufs = buffers(64, 200);
  const [s, l] = await Promise.all([readChunkFile(short.path, shortBufs), readChunkFile(long.path, longBufs)]);
  assert.ok(!('error' in s) && s.bytesRead === 164);
  assert.deepEqual(shortBufs.payload.subarray(0, 100), short.data.subarray(64));
  assert.ok(!('error' in l) && l.bytesRead === 64 + 200 + 1, 'the read stops at the spare byte');
  assert.equal(longBufs.extra[0], long.data[264]);
});

test('large payloads (a chunk at a real model depth) read whole', async () => {
  const big = file('big', 4096 + (3 << 20) + 11, 9);
  const b = buffers(4096, (3 << 20) + 11);
  const r = await readChunkFile(big.path, b);
  assert.ok(!('error' in r) && r.bytesRead === big.data.length);
  assert.equal(r.crc, crc32cReference(big.data.subarray(4096)));
});
