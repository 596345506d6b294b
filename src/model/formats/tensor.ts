// What a weight loader hands the model: tensors named and shaped as Hugging Face does, read on
// demand from the file so a model larger than memory (or than one Buffer) can still be opened.

import type { TensorDType } from '../../kernels/dtype.js';

export interface TensorInfo {
  name: string;
  dtype: TensorDType;
  /** PyTorch/HF order: a linear weight is [out, in]; the last dim is the contiguous one. */
  shape: number[];
}

/** Little-endian bytes as in the file (q8_0: GGML blocks of 34 bytes along the last dim). */
export interface RawTensor extends TensorInfo {
  data: Uint8Array;
}

export interface TensorStore {
  readonly path: string;
  names(): string[];
  info(name: string): TensorInfo | undefined;
  /** Reads one tensor's bytes from disk now; throws ModelLoadError for an unknown name. */
  read(name: string): RawTensor;
  close(): void;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
