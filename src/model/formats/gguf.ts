// Reads a GGUF file (v2/v3): metadata, tensor infos, and a TensorStore that exposes the tensors
// under HF names with HF-order shapes. Tensor bytes stay on disk until read. Layout reference:
// ../shared/models/README.md §1c, and ggml's docs/gguf.md.

import type { TensorDType } from '../../kernels/dtype.js';
import { ModelLoadError } from '../errors.js';
import { ggufToHfName } from '../tensor-names.js';
import { FileTensorStore, type TensorLocation } from './file-tensor-store.js';
import {
  dtypeFromGgml, ggmlTypeName, GGUF_TYPE_BY_ID, SUPPORTED_GGML_TYPES,
  type GgufMetadata, type GgufScalarType, type GgufValue,
} from './gguf-types.js';
import { ByteCursor, ModelFile } from './model-file.js';
import type { TensorStore } from './tensor.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
// ggml tensors have at most 4 dims (GGML_MAX_DIMS).
const MAX_DIMS = 4;

export interface GgufTensorInfo {
  /** Name as stored in the file (blk.0.attn_q.weight). */
  ggufName: string;
  dtype: TensorDType;
  /** HF order: the file's dims reversed. */
  shape: number[];
  /** Absolute offset of the data in the file. */
  offset: number;
}

export interface GgufFile {
  version: number;
  metadata: GgufMetadata;
  alignment: number;
  dataOffset: number;
  tensorInfos: GgufTensorInfo[];
  /** Tensors under HF names (unmapped names such as rope_freqs.weight keep their GGUF name). */
  tensors: TensorStore;
}

export function readGguf(path: string): GgufFile {
  const file = new ModelFile(path);
  try {
    return parse(file);
  } catch (err) {
    file.close();
    throw err;
  }
}

function parse(file: ModelFile): GgufFile {
  const cur = new ByteCursor(file);
  if (file.size === 0) throw new ModelLoadError(file.path, 'empty file');
  if (cur.u32('magic') !== GGUF_MAGIC) throw new ModelLoadError(file.path, 'bad magic: not a GGUF file');
  const version = cur.u32('version');
  if (version === 1) throw new ModelLoadError(file.path, 'GGUF version 1 is not supported (only versions 2 and 3)');
  if (version !== 2 && version !== 3) {
    const hint = version >= 0x01000000 ? ' (a big-endian file?)' : '';
    throw new ModelLoadError(file.path, `unsupported GGUF version ${version}${hint}; supported: 2, 3`);
  }
  const nTensors = cur.size('tensor count');
  const nKv = cur.size('metadata count');
  // Each KV takes at least 13 bytes and each tensor info 28: larger counts mean a corrupt header.
  if (nKv * 13 > cur.remaining || nTensors * 28 > cur.remaining) {
    throw new ModelLoadError(file.path, `truncated or corrupt header: ${nKv} metadata entries and ${nTensors} tensors cannot fit in ${file.size} bytes`);
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = readString(cur, `metadata key #${i}`);
    const typeId = cur.u32(`type of metadata ${key}`);
    metadata.set(key, readValue(cur, typeId, key));
  }

  const alignment = readAlignment(metadata, file.path);
  const infos: GgufTensorInfo[] = [];
  const relOffsets: number[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = readString(cur, `name of tensor #${i}`);
    const nDims = cur.u32(`dim count of tensor ${name}`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new ModelLoadError(file.path, `tensor ${name} has ${nDims} dims (ggml allows 1 to ${MAX_DIMS})`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(cur.size(`dim ${d} of tensor ${name}`));
    const typeId = cur.u32(`type of tensor ${name}`);
    const relOffset = cur.size(`offset of tensor ${name}`);
    const dtype = dtypeFromGgml(typeId);
    if (!dtype) {
      throw new ModelLoadError(file.path, `tensor ${name} has type ${ggmlTypeName(typeId)}, which Pensieve cannot compute; supported: ${SUPPORTED_GGML_TYPES}`);
    }
    if (relOffset % alignment !== 0) throw new ModelLoadError(file.path, `tensor ${name} offset ${relOffset} is not aligned to ${alignment}`);
    infos.push({ ggufName: name, dtype, shape: dims.reverse(), offset: 0 });
    relOffsets.push(relOffset);
  }
  const dataOffset = Math.ceil(cur.pos / alignment) * alignment;
  infos.forEach((info, i) => { info.offset = dataOffset + relOffsets[i]!; });

  const archValue = metadata.get('general.architecture');
  const arch = archValue?.type === 'string' ? archValue.value : undefined;
  const locations: TensorLocation[] = infos.map((t) => ({
    info: { name: ggufToHfName(t.ggufName, arch) ?? t.ggufName, dtype: t.dtype, shape: t.shape },
    file,
    offset: t.offset,
    fileName: t.ggufName,
  }));
  const tensors = new FileTensorStore(file.path, locations, [file]);
  return { version, metadata, alignment, dataOffset, tensorInfos: infos, tensors };
}

function readAlignment(metadata: GgufMetadata, path: string): number {
  const v = metadata.get('general.alignment');
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const a = v.type === 'u32' || v.type === 'u64' || v.type === 'i32' ? Number(v.value) : NaN;
  if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
    throw new ModelLoadError(path, `general.alignment must be a power of two, found ${String(v.value)}`);
  }
  return a;
}

function readString(cur: ByteCursor, what: string): string {
  const len = cur.size(`length of ${what}`);
  if (len > cur.remaining) throw new ModelLoadError(cur.file.path, `truncated: ${what} claims ${len} bytes, ${cur.remaining} left`);
  return cur.utf8(len, what);
}

// Smallest encoding of each element type, to reject impossible array counts before allocating.
const MIN_BYTES: Record<GgufScalarType, number> = {
  u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8, string: 8,
};

function readValue(cur: ByteCursor, typeId: number, key: string): GgufValue {
  const type = GGUF_TYPE_BY_ID[typeId];
  if (type === undefined) throw new ModelLoadError(cur.file.path, `metadata ${key} has unknown value type ${typeId}`);
  if (type !== 'array') return readScalar(cur, type, key);
  const itemId = cur.u32(`item type of ${key}`);
  const itemType = GGUF_TYPE_BY_ID[itemId];
  if (itemType === undefined) throw new ModelLoadError(cur.file.path, `metadata ${key} has unknown item type ${itemId}`);
  if (itemType === 'array') throw new ModelLoadError(cur.file.path, `metadata ${key} is a nested array, which is not supported`);
  const count = cur.size(`length of ${key}`);
  if (count * MIN_BYTES[itemType] > cur.remaining) {
    throw new ModelLoadError(cur.file.path, `truncated: metadata ${key} claims ${count} items, more than the file holds`);
  }
  const items: (number | bigint | boolean | string)[] = new Array(count);
  for (let i = 0; i < count; i++) items[i] = readScalar(cur, itemType, key).value;
  // The element type is checked above; the union cannot see that items share it.
  return { type: 'array', itemType, value: items } as GgufValue;
}

function readScalar(cur: ByteCursor, type: GgufScalarType, key: string): Exclude<GgufValue, { type: 'array' }> {
  switch (type) {
    case 'u8': return { type, value: cur.u8(key) };
    case 'i8': return { type, value: cur.i8(key) };
    case 'u16': return { type, value: cur.u16(key) };
    case 'i16': return { type, value: cur.i16(key) };
    case 'u32': return { type, value: cur.u32(key) };
    case 'i32': return { type, value: cur.i32(key) };
    case 'f32': return { type, value: cur.f32(key) };
    case 'f64': return { type, value: cur.f64(key) };
    case 'u64': return { type, value: safeNumber(cur.u64(key)) };
    case 'i64': return { type, value: safeNumber(cur.i64(key)) };
    case 'bool': {
      const b = cur.u8(key);
      if (b > 1) throw new ModelLoadError(cur.file.path, `metadata ${key} has bool byte ${b}`);
      return { type, value: b === 1 };
    }
    case 'string': return { type, value: readString(cur, `metadata ${key}`) };
  }
}

function safeNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}
