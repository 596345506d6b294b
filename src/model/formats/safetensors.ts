// Reads safetensors files (one file, or shards listed by model.safetensors.index.json) into a
// TensorStore. Layout: u64 LE header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end)}, __metadata__?: {string: string}}, then the data block.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { z } from 'zod';
import { byteSize, type TensorDType } from '../../kernels/dtype.js';
import { ModelLoadError } from '../errors.js';
import { FileTensorStore, type TensorLocation } from './file-tensor-store.js';
import { describeFsError, ModelFile } from './model-file.js';
import { elementCount, shapeText, type TensorStore } from './tensor.js';

const DTYPES: ReadonlyMap<string, TensorDType> = new Map([['F32', 'f32'], ['F16', 'f16'], ['BF16', 'bf16']]);
// The reference implementation refuses headers over 100 MB; a larger one is corrupt.
const MAX_HEADER = 100_000_000;

const entrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

export interface SafetensorsHeader {
  locations: TensorLocation[];
  metadata: Record<string, string>;
}

/** Parses one file's header; the returned locations keep `file` open. */
export function readSafetensorsHeader(file: ModelFile): SafetensorsHeader {
  if (file.size === 0) throw new ModelLoadError(file.path, 'empty file');
  const lengthBytes = file.readAt(0, 8, 'safetensors header length');
  const n = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > file.size) {
    throw new ModelLoadError(file.path, `bad safetensors header: it claims ${n} bytes but the file has ${file.size}`);
  }
  const text = Buffer.from(file.readAt(8, n, 'safetensors header')).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(file.path, `bad safetensors header: invalid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelLoadError(file.path, 'bad safetensors header: not a JSON object');
  }
  const dataStart = 8 + n;
  const locations: TensorLocation[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      const parsed = z.record(z.string(), z.string()).safeParse(raw);
      if (!parsed.success) throw new ModelLoadError(file.path, 'bad safetensors header: __metadata__ must map strings to strings');
      metadata = parsed.data;
      continue;
    }
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) throw new ModelLoadError(file.path, `bad safetensors header: entry ${name} needs dtype, shape and data_offsets`);
    const { dtype: dtypeName, shape, data_offsets: [begin, end] } = parsed.data;
    const dtype = DTYPES.get(dtypeName);
    if (!dtype) throw new ModelLoadError(file.path, `tensor ${name} has dtype ${dtypeName}; supported: F32, F16, BF16`);
    const need = byteSize(dtype, elementCount(shape));
    if (end - begin !== need) {
      throw new ModelLoadError(file.path, `tensor ${name}: data_offsets [${begin}, ${end}) hold ${end - begin} bytes but ${dtypeName} ${shapeText(shape)} needs ${need}`);
    }
    locations.push({ info: { name, dtype, shape }, file, offset: dataStart + begin });
  }
  return { locations, metadata };
}

export interface SafetensorsModel {
  tensors: TensorStore;
  metadata: Record<string, string>;
}

export function openSafetensors(path: string): SafetensorsModel {
  const file = new ModelFile(path);
  try {
    const { locations, metadata } = readSafetensorsHeader(file);
    return { tensors: new FileTensorStore(path, locations, [file]), metadata };
  } catch (err) {
    file.close();
    throw err;
  }
}

const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

/** Opens the shards named by a model.safetensors.index.json as one store. */
export function openShardedSafetensors(indexPath: string): SafetensorsModel {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(indexPath, err instanceof SyntaxError ? `invalid JSON (${err.message})` : describeFsError(err));
  }
  const parsed = indexSchema.safeParse(json);
  if (!parsed.success) throw new ModelLoadError(indexPath, 'index has no weight_map of tensor name → shard file');
  const dir = nodePath.dirname(indexPath);
  const shardNames = [...new Set(Object.values(parsed.data.weight_map))];
  const files: ModelFile[] = [];
  try {
    const located = new Map<string, TensorLocation>();
    let metadata: Record<string, string> = {};
    for (const shard of shardNames) {
      if (shard.includes('/') || shard.includes('\\')) throw new ModelLoadError(indexPath, `shard name ${shard} is not a plain file name`);
      const file = new ModelFile(nodePath.join(dir, shard));
      files.push(file);
      const header = readSafetensorsHeader(file);
      metadata = { ...header.metadata, ...metadata };
      for (const loc of header.locations) located.set(loc.info.name, loc);
    }
    const locations: TensorLocation[] = [];
    for (const [name, shard] of Object.entries(parsed.data.weight_map)) {
      const loc = located.get(name);
      if (!loc || nodePath.basename(loc.file.path) !== shard) throw new ModelLoadError(indexPath, `tensor ${name} is not in its shard ${shard}`);
      locations.push(loc);
    }
    return { tensors: new FileTensorStore(indexPath, locations, files), metadata };
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
}
