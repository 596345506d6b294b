// Writes a GGUF v3 file: for tests (round trips, corrupt-file cases) and for making models.
// Tensors are given with HF-order shapes and written with ggml's reversed dims, each aligned to
// general.alignment (32 unless the metadata says otherwise), as llama.cpp's gguf writer does.

import * as fs from 'node:fs';
import { byteSize } from '../../kernels/dtype.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from './gguf.js';
import { GGUF_TYPE_IDS, ggmlTypeId, type GgufMetadata, type GgufScalarType, type GgufValue } from './gguf-types.js';
import { elementCount, shapeText, type RawTensor } from './tensor.js';

const GGUF_VERSION = 3;

/** `tensors` carry GGUF names (blk.0.attn_q.weight) and HF-order shapes. */
export function writeGguf(path: string, metadata: GgufMetadata, tensors: readonly RawTensor[]): void {
  const alignment = alignmentOf(metadata);
  const header = new ByteWriter();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(tensors.length);
  header.u64(metadata.size);
  for (const [key, value] of metadata) {
    header.string(key);
    header.u32(GGUF_TYPE_IDS[value.type]);
    writeValue(header, value, key);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const expected = byteSize(t.dtype, elementCount(t.shape));
    if (t.data.byteLength !== expected) {
      throw new Error(`tensor ${t.name}: ${t.data.byteLength} bytes given, ${t.dtype} ${shapeText(t.shape)} needs ${expected}`);
    }
    header.string(t.name);
    header.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) header.u64(d);
    header.u32(ggmlTypeId(t.dtype));
    header.u64(offset);
    offsets.push(offset);
    offset = alignUp(offset + expected, alignment);
  }

  const fd = fs.openSync(path, 'w');
  try {
    const head = header.finish();
    fs.writeSync(fd, head);
    let pos = head.byteLength;
    const dataStart = alignUp(pos, alignment);
    pos += writeZeros(fd, dataStart - pos);
    tensors.forEach((t, i) => {
      pos += writeZeros(fd, dataStart + offsets[i]! - pos);
      fs.writeSync(fd, t.data);
      pos += t.data.byteLength;
    });
  } finally {
    fs.closeSync(fd);
  }
}

function alignmentOf(metadata: GgufMetadata): number {
  const v = metadata.get('general.alignment');
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const a = v.type === 'u32' ? v.value : NaN;
  if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) throw new Error(`general.alignment must be a u32 power of two`);
  return a;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function writeZeros(fd: number, n: number): number {
  if (n > 0) fs.writeSync(fd, new Uint8Array(n));
  return n;
}

function writeValue(w: ByteWriter, value: GgufValue, key: string): void {
  if (value.type !== 'array') {
    writeScalar(w, value.type, value.value, key);
    return;
  }
  w.u32(GGUF_TYPE_IDS[value.itemType]);
  w.u64(value.value.length);
  for (const item of value.value) writeScalar(w, value.itemType, item, key);
}

// [min, max, bytes] of the integer types; signed values are stored as their two's complement bits.
const INT_TYPES: Partial<Record<GgufScalarType, [number, number, 1 | 2 | 4]>> = {
  u8: [0, 0xff, 1], i8: [-0x80, 0x7f, 1], u16: [0, 0xffff, 2], i16: [-0x8000, 0x7fff, 2],
  u32: [0, 0xffffffff, 4], i32: [-0x80000000, 0x7fffffff, 4],
};

function writeScalar(w: ByteWriter, type: GgufScalarType, v: number | bigint | boolean | string, key: string): void {
  const int = INT_TYPES[type];
  if (int) {
    const [min, max, size] = int;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw notA(key, type, v);
    if (size === 1) return w.u8(v & 0xff);
    if (size === 2) return w.u16(v & 0xffff);
    return w.u32(v >>> 0);
  }
  switch (type) {
    case 'f32': if (typeof v !== 'number') throw notA(key, type, v); return w.f32(v);
    case 'f64': if (typeof v !== 'number') throw notA(key, type, v); return w.f64(v);
    case 'u64': case 'i64': {
      if ((typeof v !== 'number' || !Number.isInteger(v)) && typeof v !== 'bigint') throw notA(key, type, v);
      const big = BigInt(v);
      const fits = type === 'u64' ? big >= 0n && big < 1n << 64n : big >= -(1n << 63n) && big < 1n << 63n;
      if (!fits) throw notA(key, type, v);
      return type === 'u64' ? w.u64(big) : w.i64(big);
    }
    case 'bool': if (typeof v !== 'boolean') throw notA(key, type, v); return w.u8(v ? 1 : 0);
    case 'string': if (typeof v !== 'string') throw notA(key, type, v); return w.string(v);
    default: throw notA(key, type, v);
  }
}

function notA(key: string, type: GgufScalarType, v: unknown): Error {
  return new Error(`metadata ${key}: ${String(v)} is not a ${type}`);
}

/** Collects little-endian fields into one growing buffer (vocabularies make for 100k+ fields). */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  private length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.byteLength) {
      const grown = Buffer.alloc(Math.max(this.buf.byteLength * 2, this.length + n));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // Every writer calls reserve() before touching this.buf: reserve() may replace it.
  bytes(b: Uint8Array): void { const at = this.reserve(b.byteLength); this.buf.set(b, at); }
  u8(v: number): void { const at = this.reserve(1); this.buf.writeUInt8(v, at); }
  u16(v: number): void { const at = this.reserve(2); this.buf.writeUInt16LE(v, at); }
  u32(v: number): void { const at = this.reserve(4); this.buf.writeUInt32LE(v, at); }
  f32(v: number): void { const at = this.reserve(4); this.buf.writeFloatLE(v, at); }
  f64(v: number): void { const at = this.reserve(8); this.buf.writeDoubleLE(v, at); }
  u64(v: number | bigint): void { const at = this.reserve(8); this.buf.writeBigUInt64LE(BigInt(v), at); }
  i64(v: number | bigint): void { const at = this.reserve(8); this.buf.writeBigInt64LE(BigInt(v), at); }

  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u64(n);
    const at = this.reserve(n);
    this.buf.write(s, at, n, 'utf8');
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
