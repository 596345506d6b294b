// The disk tier: one file per slot (`slot-<n>.kv`, see chunk-file.ts) under a directory
// of its own per model. All I/O is asynchronous (fs.promises, on libuv's thread pool),
// so the engine loop never waits on the disk; operations on one slot run in the order
// they were issued (a write, then a read of it, then its removal), and different slots
// proceed in parallel. Files are written whole to a temporary name and renamed, so a
// crash leaves either the old file, the new one, or none; a file that is torn anyway
// fails its checksum and is never used.
//
// At start-up, `open` reads every file's header: chunks of this model and layout are
// offered for re-attachment (the cache matches them to a returning conversation's tokens);
// the rest, and anything past the tier's capacity, are deleted.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import type { PersistedChunk } from '../../cache/chunk-tiers.js';
import type { KvPool } from '../../kernels/types.js';
import { HEADER_BYTES, blockPayloadBytes, checksum, checksumHex, chunkFileProblem, decodeHeader, encodeHeader, headerMismatch, type ChunkHeader, type KvLayout } from './chunk-file.js';
import { readChunkFile } from './chunk-reader.js';

const SLOT_FILE = /^slot-(\d+)\.kv$/;

export interface DiskTierOptions {
  /** The tier's root; the model's files go in a subdirectory named after the model id. */
  dir: string;
  capacity: number;
  modelId: string;
  layout: KvLayout;
  blocksPerChunk: number;
  /**
   * Bytes of payload buffers kept for the next reads once their swap-in is done (recycle):
   * a fresh 128 KiB array per read costs a mapping, its page faults and its unmapping, which
   * made a warm 4K-token restore's reads 2-5x slower. Default 0: none kept.
   */
  spareBytes?: number;
}

/** What `open` found on disk. */
export interface DiskScan {
  persisted: PersistedChunk[];
  /** Files deleted: not ours, another model's layout, past capacity, unreadable. */
  discarded: number;
}

export class DiskTier {
  readonly dir: string;
  /** Bytes of one slot's file at most (header + a full chunk). */
  readonly slotBytes: number;
  private readonly chains = new Map<number, Promise<void>>();
  private readonly sizes = new Map<number, number>();
  private bytes = 0;
  /** Bytes of a full chunk's payload (slotBytes less the header). */
  private readonly fullPayloadBytes: number;
  /** Full-chunk payload arrays handed back by recycle(), for readBuffers. */
  private readonly spares: KvPool[] = [];

  private constructor(readonly options: DiskTierOptions) {
    this.dir = nodePath.join(options.dir, modelDirName(options.modelId));
    this.fullPayloadBytes = payloadBytes(options.layout, options.blocksPerChunk);
    this.slotBytes = HEADER_BYTES + this.fullPayloadBytes;
  }

  /** Bytes one slot's file takes at most: what the tier's byte budget is divided by. */
  static slotBytesFor(layout: KvLayout, blocksPerChunk: number): number {
    return HEADER_BYTES + payloadBytes(layout, blocksPerChunk);
  }

  /** Opens (creating) the model's directory and scans the chunk files a previous run left. */
  static open(options: DiskTierOptions): { tier: DiskTier; scan: DiskScan } {
    const tier = new DiskTier(options);
    fs.mkdirSync(tier.dir, { recursive: true });
    return { tier, scan: tier.scan() };
  }

  /** Bytes of the chunk files currently on disk (at most capacity × slotBytes). */
  get bytesOnDisk(): number {
    return this.bytes;
  }

  pathOf(slot: number): string {
    return nodePath.join(this.dir, `slot-${slot}.kv`);
  }

  /** Writes a chunk's payload to its slot's file. Rejects on an I/O error. */
  write(slot: number, meta: ChunkMeta, data: KvPool, numBlocks: number): Promise<void> {
    const payload = new Uint8Array(data.buffer, data.byteOffset, numBlocks * (payloadBytes(this.options.layout, 1)));
    return this.enqueue(slot, async () => {
      const header: ChunkHeader = {
        ...meta,
        modelId: this.options.modelId,
        layout: this.options.layout,
        numBlocks,
        payloadBytes: payload.byteLength,
        checksum: checksum(payload),
      };
      const file = this.pathOf(slot);
      const tmp = `${file}.tmp`;
      const handle = await fsp.open(tmp, 'w');
      try {
        await handle.writev([encodeHeader(header), payload]);
      } finally {
        await handle.close();
      }
      await fsp.rename(tmp, file);
      this.setSize(slot, HEADER_BYTES + payload.byteLength);
    });
  }

  /**
   * Reads a slot's chunk, checking it is `expect` and intact. Resolves to the payload
   * (gathered values), or to the reason it cannot be used. One vectored read puts the
   * header in a page of its own and the payload straight into the array the swap-in
   * scatters from: no intermediate buffer, no copy. Reads asked for together (a restore's)
   * run as one batch off the engine's thread, checksums included (chunk-reader.ts).
   */
  read(slot: number, expect: ChunkMeta): Promise<KvPool | string> {
    return this.enqueueValue(slot, async () => {
      const { header, payload, extra } = this.readBuffers(expect);
      const r = await readChunkFile(this.pathOf(slot), { header, payload: new Uint8Array(payload.buffer), extra });
      if ('error' in r) return `unreadable: ${r.error}`;
      return this.verify(header, payload, r.bytesRead, expect, r.crc);
    });
  }

  /** The same read and checks, synchronously (a fallback when a read was not started in time). */
  readSync(slot: number, expect: ChunkMeta): KvPool | string {
    const { header, payload, extra } = this.readBuffers(expect);
    let n: number;
    try {
      const fd = fs.openSync(this.pathOf(slot), 'r');
      try {
        n = fs.readvSync(fd, [header, new Uint8Array(payload.buffer), extra], 0);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      return `unreadable: ${(err as Error).message}`;
    }
    return this.verify(header, payload, n, expect);
  }

  /**
   * A slot's whole file, header and payload, once it is checked to hold `expect` intact:
   * what the shared tier is sent (the same bytes, so a replica reading them checks them
   * as this tier does). In order with the slot's other operations: a write issued before
   * has landed; a slot released since has no file (a reason is returned, not bytes).
   */
  readFile(slot: number, expect: ChunkMeta): Promise<Buffer | string> {
    return this.enqueueValue(slot, async () => {
      let bytes: Buffer;
      try {
        bytes = await fsp.readFile(this.pathOf(slot));
      } catch (err) {
        return `unreadable: ${(err as Error).message}`;
      }
      return chunkFileProblem(bytes, this.options.modelId, this.options.layout, expect) ?? bytes;
    });
  }

  /** Deletes a slot's file (if any). */
  remove(slot: number): Promise<void> {
    return this.enqueue(slot, async () => {
      await fsp.rm(this.pathOf(slot), { force: true });
      this.setSize(slot, 0);
    });
  }

  /** Resolves once every operation issued so far has finished. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
  }

  /**
   * Hands back a payload a read returned (or any whole array of a full chunk's values) once
   * nothing uses it any more, its values scattered into the device: the next read lands in
   * it. Kept up to options.spareBytes.
   */
  recycle(payload: KvPool): void {
    const full = this.fullPayloadBytes;
    const ofType = this.options.layout.dtype === 'bf16' ? payload instanceof Uint16Array : payload instanceof Float32Array;
    const whole = payload.byteOffset === 0 && payload.buffer.byteLength === full && payload.byteLength === full;
    if (ofType && whole && (this.spares.length + 1) * full <= (this.options.spareBytes ?? 0)) this.spares.push(payload);
  }

  /** Where a read of `expect` lands: its header, its payload (exactly as long as the chunk's), one byte past. */
  private readBuffers(expect: ChunkMeta): { header: Buffer; payload: KvPool; extra: Buffer } {
    const { layout } = this.options;
    const numBlocks = Math.ceil(expect.numTokens / layout.blockSize);
    const bytes = payloadBytes(layout, numBlocks);
    const spare = bytes === this.fullPayloadBytes ? this.spares.pop() : undefined;
    const payload = spare ?? (layout.dtype === 'bf16' ? new Uint16Array(bytes / 2) : new Float32Array(bytes / 4));
    return { header: Buffer.alloc(HEADER_BYTES), payload, extra: Buffer.alloc(1) };
  }

  /**
   * The payload of a read of `n` bytes into readBuffers, or why it is not `expect` intact
   * (`crc`: the payload's CRC-32C when the reader computed it already).
   */
  private verify(header: Buffer, payload: KvPool, n: number, expect: ChunkMeta, crc?: number): KvPool | string {
    const h = decodeHeader(header.subarray(0, Math.min(n, HEADER_BYTES)));
    if (typeof h === 'string') return h;
    const why = headerMismatch(h, this.options.modelId, this.options.layout, expect);
    if (why !== null) return why;
    if (h.payloadBytes !== payload.byteLength) return `payload of ${h.payloadBytes} bytes, ${payload.byteLength} expected`;
    const total = HEADER_BYTES + h.payloadBytes;
    if (n !== total) return n < total ? `truncated: ${n} bytes, ${total} expected` : `more bytes than the ${total} its header describes`;
    const sum = crc === undefined ? checksum(new Uint8Array(payload.buffer)) : checksumHex(crc);
    if (sum !== h.checksum) return 'checksum mismatch';
    return payload;
  }

  private scan(): DiskScan {
    const persisted: PersistedChunk[] = [];
    let discarded = 0;
    for (const name of fs.readdirSync(this.dir)) {
      const file = nodePath.join(this.dir, name);
      const m = SLOT_FILE.exec(name);
      const slot = m === null ? -1 : Number(m[1]);
      const h = slot >= 0 && slot < this.options.capacity ? readHeader(file) : 'not a slot file of this capacity';
      const why = typeof h === 'string' ? h : headerMismatch(h, this.options.modelId, this.options.layout);
      if (typeof h === 'string' || why !== null) {
        fs.rmSync(file, { force: true, recursive: true });
        discarded++;
        continue;
      }
      this.setSize(slot, fs.statSync(file).size);
      persisted.push({ conversationId: h.conversationId, chunkIndex: h.chunkIndex, slot, numTokens: h.numTokens, tokenHash: h.tokenHash, lastAccess: h.lastAccess });
    }
    return { persisted, discarded };
  }

  private setSize(slot: number, size: number): void {
    this.bytes += size - (this.sizes.get(slot) ?? 0);
    if (size === 0) this.sizes.delete(slot);
    else this.sizes.set(slot, size);
  }

  private enqueue(slot: number, op: () => Promise<void>): Promise<void> {
    return this.enqueueValue(slot, op);
  }

  private enqueueValue<T>(slot: number, op: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(slot) ?? Promise.resolve();
    const result = prev.then(op, op);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(slot, settled);
    void settled.then(() => {
      if (this.chains.get(slot) === settled) this.chains.delete(slot);
    });
    return result;
  }
}

/** Bytes of the payload of `numBlocks` blocks. */
function payloadBytes(layout: KvLayout, numBlocks: number): number {
  return numBlocks * blockPayloadBytes(layout);
}

function readHeader(file: string): ChunkHeader | string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(HEADER_BYTES);
      const n = fs.readSync(fd, buf, 0, HEADER_BYTES, 0);
      return decodeHeader(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

/** A directory name for a model id: readable, and unique through a short hash. */
function modelDirName(modelId: string): string {
  const readable = modelId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-48);
  return `${readable}-${createHash('sha256').update(modelId).digest('hex').slice(0, 12)}`;
}
