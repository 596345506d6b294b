// Bounds-checked reads from a model file. Every out-of-range read becomes a ModelLoadError that
// names the file, so a truncated or corrupt model never surfaces as a RangeError. Reads go
// through fs.readSync at an offset: model files can be far larger than one Buffer.

import * as fs from 'node:fs';
import { ModelLoadError } from '../errors.js';

// readSync takes at most INT32_MAX bytes per call; stay well under it.
const MAX_READ = 1 << 30;

export class ModelFile {
  readonly path: string;
  readonly size: number;
  private fd: number | null;

  constructor(path: string) {
    this.path = path;
    try {
      this.fd = fs.openSync(path, 'r');
      this.size = fs.fstatSync(this.fd).size;
    } catch (err) {
      throw new ModelLoadError(path, describeFsError(err));
    }
  }

  /** Reads [offset, offset+length); `what` names the thing being read for the error message. */
  readAt(offset: number, length: number, what: string): Uint8Array {
    if (this.fd === null) throw new ModelLoadError(this.path, `read of ${what} after close`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new ModelLoadError(this.path, `truncated: ${what} needs bytes [${offset}, ${offset + length}) but the file has ${this.size}`);
    }
    // Not from Node's shared pool: each result owns its ArrayBuffer (offset 0, so callers may view
    // it as a Float32Array).
    const out = Buffer.allocUnsafeSlow(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, out, done, Math.min(MAX_READ, length - done), offset + done);
      if (n <= 0) throw new ModelLoadError(this.path, `short read of ${what} at byte ${offset + done}`);
      done += n;
    }
    return new Uint8Array(out.buffer, out.byteOffset, length);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  return err instanceof Error ? err.message : String(err);
}

const WINDOW = 1 << 20;

/**
 * Sequential little-endian reader over a ModelFile, buffered in 1 MiB windows, for headers whose
 * length is only known while parsing them (GGUF metadata can hold megabytes of vocabulary).
 */
export class ByteCursor {
  readonly file: ModelFile;
  pos: number;
  private buf: Buffer = Buffer.alloc(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(file: ModelFile, start = 0) {
    this.file = file;
    this.pos = start;
  }

  get remaining(): number {
    return this.file.size - this.pos;
  }

  /** Makes [pos, pos+n) addressable in the window and returns its index there. */
  private take(n: number, what: string): number {
    if (n > this.remaining) {
      throw new ModelLoadError(this.file.path, `truncated: ${what} at byte ${this.pos} needs ${n} bytes, ${this.remaining} left`);
    }
    let at = this.pos - this.bufStart;
    if (at < 0 || at + n > this.buf.byteLength) {
      const len = Math.min(Math.max(n, WINDOW), this.remaining);
      const bytes = this.file.readAt(this.pos, len, what);
      this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      this.bufStart = this.pos;
      at = 0;
    }
    this.pos += n;
    return at;
  }

  // Each reader calls take() before touching this.view: take() may replace the window.
  u8(what: string): number { const at = this.take(1, what); return this.view.getUint8(at); }
  i8(what: string): number { const at = this.take(1, what); return this.view.getInt8(at); }
  u16(what: string): number { const at = this.take(2, what); return this.view.getUint16(at, true); }
  i16(what: string): number { const at = this.take(2, what); return this.view.getInt16(at, true); }
  u32(what: string): number { const at = this.take(4, what); return this.view.getUint32(at, true); }
  i32(what: string): number { const at = this.take(4, what); return this.view.getInt32(at, true); }
  f32(what: string): number { const at = this.take(4, what); return this.view.getFloat32(at, true); }
  f64(what: string): number { const at = this.take(8, what); return this.view.getFloat64(at, true); }
  u64(what: string): bigint { const at = this.take(8, what); return this.view.getBigUint64(at, true); }
  i64(what: string): bigint { const at = this.take(8, what); return this.view.getBigInt64(at, true); }

  /** A u64 that must fit a JS number (counts, lengths, offsets); read as two halves, which is faster than a bigint. */
  size(what: string): number {
    const at = this.take(8, what);
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    if (hi > 0x1fffff) throw new ModelLoadError(this.file.path, `${what} is ${(BigInt(hi) << 32n) | BigInt(lo)}, too large to be real`);
    return hi * 2 ** 32 + lo;
  }

  /** `n` bytes of UTF-8. */
  utf8(n: number, what: string): string {
    const at = this.take(n, what);
    return this.buf.toString('utf8', at, at + n);
  }
}
