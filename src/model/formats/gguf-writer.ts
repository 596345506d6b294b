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
  const bad = (): Error => new Error(`metadata ${key}: ${String(v)} is not a ${type}`);
  const int = INT_TYPES[type];
  if (int) {
    const [min, max, size] = int;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad();
    return w.view(size, (d) => {
      if (size === 1) d.setUint8(0, v & 0xff);
      else if (size === 2) d.setUint16(0, v & 0xffff, true);
      else d.setUint32(0, v >>> 0, true);
    });
  }
  switch (type) {
    case 'f32': if (typeof v !== 'number') throw bad(); return w.view(4, (d) => d.setFloat32(0, v, true));
    case 'f64': if (typeof v !== 'number') throw bad(); return w.view(8, (d) => d.setFloat64(0, v, true));
    case 'u64': case 'i64': {
      if ((typeof v !== 'number' || !Number.isInteger(v)) && typeof v !== 'bigint') throw bad();
      const big = BigInt(v);
      return w.view(8, (d) => (type === 'u64' ? d.setBigUint64(0, big, true) : d.setBigInt64(0, big, true)));
    }
    case 'bool': if (typeof v !== 'boolean') throw bad(); return w.bytes(Uint8Array.of(v ? 1 : 0));
    case 'string': if (typeof v !== 'string') throw bad(); return w.string(v);
    default: throw bad();
  }
}

/** Collects little-endian fields into one buffer. */
class ByteWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.byteLength;
  }

  view(n: number, fill: (d: DataView) => void): void {
    const b = new Uint8Array(n);
    fill(new DataView(b.buffer));
    this.bytes(b);
  }

  u32(v: number): void { this.view(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number): void { this.view(8, (d) => d.setBigUint64(0, BigInt(v), true)); }

  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.byteLength);
    this.bytes(b);
  }

  finish(): Uint8Array {
    return Buffer.concat(this.chunks, this.length);
  }
}
