// Token histories are stored as BLOBs of little-endian int32: 4 bytes a token, no parsing, and a
// 100k-token history is one 400 KB copy. The byte order is fixed so a data dir moved between
// machines still reads back the same ids.

import { endianness } from 'node:os';

const HOST_IS_LE = endianness() === 'LE';

/** Packs token ids into the on-disk form. Rejects ids that an int32 cannot hold exactly. */
export function encodeTokens(tokens: Int32Array | readonly number[]): Buffer {
  let ids: Int32Array;
  if (tokens instanceof Int32Array) {
    ids = tokens;
  } else {
    ids = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      // Int32Array.from would wrap 2^31 to a negative id silently; a wrong token is worse than an error.
      if (!Number.isInteger(t) || t < -0x80000000 || t > 0x7fffffff) {
        throw new RangeError(`token ${i} is ${t}, not an int32`);
      }
      ids[i] = t;
    }
  }
  const out = Buffer.alloc(ids.length * 4);
  if (HOST_IS_LE) {
    out.set(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
  } else {
    for (let i = 0; i < ids.length; i++) out.writeInt32LE(ids[i]!, i * 4);
  }
  return out;
}

/** Unpacks a stored BLOB. `where` names the row, so a damaged one is findable. */
export function decodeTokens(blob: Uint8Array, where: string): Int32Array {
  if (blob.byteLength % 4 !== 0) {
    throw new Error(`${where}: token history is ${blob.byteLength} bytes, not a multiple of 4`);
  }
  const n = blob.byteLength / 4;
  if (HOST_IS_LE) {
    // Copy: the driver's Buffer may sit at an offset that is not 4-byte aligned.
    const ids = new Int32Array(n);
    new Uint8Array(ids.buffer).set(blob);
    return ids;
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = view.getInt32(i * 4, true);
  return ids;
}
