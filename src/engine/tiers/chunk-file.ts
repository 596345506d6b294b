// The on-disk format of one KV chunk: a fixed-size header, then the chunk's blocks as
// KvCache.gatherBlocks lays them out ([layer][K, V][block][kvHead][token][dim], f32 or bf16 as
// the layout's dtype says, little-endian).
//
//   bytes 0..7    magic "PNSVKV\0\0"
//   bytes 8..11   format version (u32 LE)
//   bytes 12..15  length of the JSON that follows (u32 LE)
//   bytes 16..    JSON ChunkHeader, zero-padded to HEADER_BYTES
//   HEADER_BYTES  payload
//
// A file is used only when everything matches what the engine expects: magic, version,
// model id, KV layout, chunk index, the hash of the tokens up to the chunk's end (which
// names the chunk whichever conversation wrote it), and the CRC-32C of the payload. Anything
// else is treated as absent and the chunk is recomputed: a wrong KV must never be served.
// (Version 1 carried a SHA-256, which ran at ~1 GB/s: slower than the rest of a swap-in
// together. The files are ours; a CRC catches torn and flipped bytes as well.)
// The shared tier (shared-tier.ts) stores a file's exact bytes as a Redis value, and checks
// what it reads back as the disk tier checks a file (chunkFileProblem).
//
// The CRC guards against accidents, not against a writer that means harm: whoever can write
// the shared Redis can serve any KV to every replica. Keep that server as private as the
// replicas' own disks.
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import { crc32c } from '../../kernels/checksum.js';
import type { KvPool } from '../../kernels/types.js';
import { KvCache, type KvDType } from '../../model/kv-cache.js';

export const CHUNK_FILE_MAGIC = Buffer.from('PNSVKV\0\0', 'latin1');
export const CHUNK_FILE_VERSION = 2;
/** Header size; also keeps the payload page-aligned. */
export const HEADER_BYTES = 4096;

/** The shape of the KV a file holds: it must equal the running model's. */
export interface KvLayout {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  dtype: KvDType;
}

/** Payload bytes of one block (all layers, K and V). */
export function blockPayloadBytes(layout: KvLayout): number {
  return KvCache.bytesPerBlock(layout, layout.blockSize, layout.dtype);
}

export interface ChunkHeader extends ChunkMeta {
  modelId: string;
  layout: KvLayout;
  /** Blocks in the payload (a short last chunk may have fewer than a chunk's). */
  numBlocks: number;
  payloadBytes: number;
  /** CRC-32C of the payload, 8 hex digits. */
  checksum: string;
}

export function encodeHeader(h: ChunkHeader): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  if (16 + json.length > HEADER_BYTES) throw new RangeError(`chunk header of ${json.length} bytes does not fit (conversation id too long?)`);
  const out = Buffer.alloc(HEADER_BYTES);
  CHUNK_FILE_MAGIC.copy(out, 0);
  out.writeUInt32LE(CHUNK_FILE_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, 16);
  return out;
}

/** The header of a file's first HEADER_BYTES, or why it is not one of ours. */
export function decodeHeader(buf: Buffer): ChunkHeader | string {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(CHUNK_FILE_MAGIC)) return 'not a chunk file';
  const version = buf.readUInt32LE(8);
  if (version !== CHUNK_FILE_VERSION) return `format version ${version}, expected ${CHUNK_FILE_VERSION}`;
  const len = buf.readUInt32LE(12);
  if (16 + len > Math.min(buf.length, HEADER_BYTES)) return 'truncated header';
  try {
    const h = JSON.parse(buf.subarray(16, 16 + len).toString('utf8')) as ChunkHeader;
    if (typeof h.conversationId !== 'string' || !Number.isInteger(h.chunkIndex) || !Number.isInteger(h.numTokens) || typeof h.tokenHash !== 'string') {
      return 'header lacks its chunk identity';
    }
    if (!Number.isInteger(h.numBlocks) || !Number.isInteger(h.payloadBytes) || typeof h.checksum !== 'string') return 'header lacks its payload description';
    return h;
  } catch {
    return 'unreadable header';
  }
}

export function sameLayout(a: KvLayout, b: KvLayout): boolean {
  return a.numLayers === b.numLayers && a.numKvHeads === b.numKvHeads && a.headDim === b.headDim && a.blockSize === b.blockSize && a.dtype === b.dtype;
}

/** Why a header does not describe `expect` (null when it does). */
export function headerMismatch(h: ChunkHeader, modelId: string, layout: KvLayout, expect?: ChunkMeta): string | null {
  if (h.modelId !== modelId) return `model ${h.modelId}, expected ${modelId}`;
  if (!sameLayout(h.layout, layout)) return 'another KV layout';
  if (h.payloadBytes !== h.numBlocks * blockPayloadBytes(layout)) return 'payload size disagrees with its block count';
  if (expect === undefined) return null;
  // Content-addressed: the token hash names the chunk whichever chain wrote or reads it.
  if (h.chunkIndex !== expect.chunkIndex) return `chunk ${h.chunkIndex}, expected ${expect.chunkIndex}`;
  if (h.numTokens !== expect.numTokens || h.tokenHash !== expect.tokenHash) return 'other tokens';
  return null;
}

/** The payload checksum a header records: CRC-32C, hex (native, at memory speed). */
export function checksum(data: Uint8Array): string {
  return checksumHex(crc32c(data));
}

/** A CRC-32C as a header records it. */
export function checksumHex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

/**
 * Why a whole chunk file's bytes (a file read at once, or a value of the shared tier) are
 * not `expect`'s KV for this model and layout, intact; null when they are.
 */
export function chunkFileProblem(bytes: Uint8Array, modelId: string, layout: KvLayout, expect: ChunkMeta): string | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = decodeHeader(buf.subarray(0, Math.min(buf.length, HEADER_BYTES)));
  if (typeof h === 'string') return h;
  const why = headerMismatch(h, modelId, layout, expect);
  if (why !== null) return why;
  if (h.numBlocks !== Math.ceil(expect.numTokens / layout.blockSize)) return `${h.numBlocks} blocks for ${expect.numTokens} tokens`;
  const total = HEADER_BYTES + h.payloadBytes;
  if (buf.length !== total) return buf.length < total ? `truncated: ${buf.length} bytes, ${total} expected` : `more bytes than the ${total} its header describes`;
  if (checksum(buf.subarray(HEADER_BYTES)) !== h.checksum) return 'checksum mismatch';
  return null;
}

/**
 * The payload of a whole chunk file's bytes, checked as chunkFileProblem does, copied into a
 * fresh pool of the layout's dtype (a network buffer's offset need not be aligned for it).
 */
export function decodeChunkFile(
  bytes: Uint8Array, modelId: string, layout: KvLayout, expect: ChunkMeta,
): { header: ChunkHeader; payload: KvPool } | string {
  const why = chunkFileProblem(bytes, modelId, layout, expect);
  if (why !== null) return why;
  const header = decodeHeader(Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_BYTES)) as ChunkHeader;
  const body = bytes.subarray(HEADER_BYTES);
  const payload = layout.dtype === 'bf16' ? new Uint16Array(body.byteLength / 2) : new Float32Array(body.byteLength / 4);
  new Uint8Array(payload.buffer).set(body);
  return { header, payload };
}
