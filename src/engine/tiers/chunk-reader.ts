// Reads chunk files for the disk tier in batches: the reads asked for in one turn of the
// event loop (a restore asks for all of a history's chunks at once) go to the native addon's
// readChunkFiles as one task of libuv's thread pool per core, which opens, reads and closes
// each file and checksums its payload off the engine's thread (native/chunk_read.cc): the
// engine's loop sees one completion per task, not three per file (open, readv, close) and a
// checksum each, which matters most when it is busy running other requests' steps. Under
// PENSIEVE_KERNELS=reference, fs.promises and the TypeScript CRC do the same, file by file.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { crc32c } from '../../kernels/checksum.js';
import { optionalAddon } from '../../kernels/optional-addon.js';

/** The buffers one file is read into, in order: its header's page, the payload, one spare byte. */
export interface ChunkReadBuffers {
  header: Uint8Array;
  payload: Uint8Array;
  extra: Uint8Array;
}

/** Bytes read in all and the CRC-32C of the whole payload buffer; or why the file could not be read. */
export type ChunkReadResult = { bytesRead: number; crc: number } | { error: string };

type ReadChunkFiles = (paths: string[], buffers: Uint8Array[]) => Promise<ChunkReadResult[]>;

async function readOne(path: string, b: ChunkReadBuffers): Promise<ChunkReadResult> {
  let bytesRead: number;
  try {
    const handle = await fsp.open(path, 'r');
    try {
      bytesRead = (await handle.readv([b.header, b.payload, b.extra], 0)).bytesRead;
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { error: (err as Error).message };
  }
  return { bytesRead, crc: crc32c(b.payload) };
}

interface Pending {
  path: string;
  buffers: ChunkReadBuffers;
  resolve: (r: ChunkReadResult) => void;
  reject: (err: unknown) => void;
}

let pending: Pending[] = [];
const TASKS = Math.max(1, Math.min(4, os.availableParallelism()));

function flush(): void {
  const batch = pending;
  pending = [];
  const read = optionalAddon<{ readChunkFiles: ReadChunkFiles }>()?.readChunkFiles;
  if (read === undefined) {
    for (const p of batch) readOne(p.path, p.buffers).then(p.resolve, p.reject);
    return;
  }
  // One task per core, so a restore's reads and checksums use the cores the engine leaves idle.
  const tasks = Math.min(batch.length, TASKS);
  for (let t = 0; t < tasks; t++) {
    const part = batch.slice(Math.floor((t * batch.length) / tasks), Math.floor(((t + 1) * batch.length) / tasks));
    read(part.map((p) => p.path), part.flatMap((p) => [p.buffers.header, p.buffers.payload, p.buffers.extra])).then(
      (results) => part.forEach((p, i) => p.resolve(results[i]!)),
      (err: unknown) => part.forEach((p) => p.reject(err)),
    );
  }
}

/** Reads the file at `path` into `buffers`, with the other reads asked for in this turn of the loop. */
export function readChunkFile(path: string, buffers: ChunkReadBuffers): Promise<ChunkReadResult> {
  return new Promise((resolve, reject) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push({ path, buffers, resolve, reject });
  });
}
