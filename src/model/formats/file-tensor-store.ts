// A TensorStore over byte ranges of one or more files: what every format's reader builds once it
// has parsed where each tensor lives. Ranges are checked against the file size up front, so a
// truncated file fails at open with the tensor's name rather than later in the middle of loading.

import { blockValues, byteSize } from '../../kernels/dtype.js';
import { ModelLoadError } from '../errors.js';
import type { ModelFile } from './model-file.js';
import { elementCount, shapeText, type RawTensor, type TensorInfo, type TensorStore } from './tensor.js';

export interface TensorLocation {
  info: TensorInfo;
  file: ModelFile;
  /** Absolute byte offset in `file`. */
  offset: number;
  /** Name in the file, when it differs from info.name (GGUF, llama2.c), for error messages. */
  fileName?: string;
}

export class FileTensorStore implements TensorStore {
  readonly path: string;
  private readonly entries = new Map<string, TensorLocation>();
  private readonly files: ModelFile[];

  constructor(path: string, locations: TensorLocation[], files: ModelFile[]) {
    this.path = path;
    this.files = files;
    for (const loc of locations) {
      if (this.entries.has(loc.info.name)) throw new ModelLoadError(loc.file.path, `tensor ${loc.info.name} appears twice`);
      const end = loc.offset + tensorByteLength(loc.file.path, loc.info, loc.fileName);
      if (end > loc.file.size) {
        throw new ModelLoadError(loc.file.path,
          `truncated: tensor ${loc.fileName ?? loc.info.name} data [${loc.offset}, ${end}) lies outside the file (size ${loc.file.size})`);
      }
      this.entries.set(loc.info.name, loc);
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  info(name: string): TensorInfo | undefined {
    const loc = this.entries.get(name);
    return loc && { name: loc.info.name, dtype: loc.info.dtype, shape: [...loc.info.shape] };
  }

  read(name: string): RawTensor {
    const loc = this.entries.get(name);
    if (!loc) throw new ModelLoadError(this.path, `missing tensor ${name}`);
    const length = tensorByteLength(loc.file.path, loc.info, loc.fileName);
    const data = loc.file.readAt(loc.offset, length, `tensor ${loc.fileName ?? name}`);
    return { name, dtype: loc.info.dtype, shape: [...loc.info.shape], data };
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

/** Bytes a tensor takes; a quantized type needs its last (contiguous) dim to be whole blocks. */
export function tensorByteLength(file: string, info: TensorInfo, fileName?: string): number {
  const count = elementCount(info.shape);
  if (!Number.isSafeInteger(count) || info.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ModelLoadError(file, `tensor ${fileName ?? info.name} has an impossible shape ${shapeText(info.shape)}`);
  }
  const block = blockValues(info.dtype);
  if ((info.shape.at(-1) ?? 0) % block !== 0) {
    throw new ModelLoadError(file, `tensor ${fileName ?? info.name} is ${info.dtype.toUpperCase()} but its row length ${info.shape.at(-1)} is not a multiple of ${block}`);
  }
  return byteSize(info.dtype, count);
}
