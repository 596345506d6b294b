// A TensorStore over tensors already in memory: the built-in demo model's
// random weights, and tests that build a model without writing a file.
import { ModelLoadError } from '../errors.js';
import type { RawTensor, TensorInfo, TensorStore } from './tensor.js';

export class MemoryTensorStore implements TensorStore {
  private readonly tensors = new Map<string, RawTensor>();

  constructor(readonly path: string, tensors: readonly RawTensor[]) {
    for (const t of tensors) this.tensors.set(t.name, t);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo | undefined {
    const t = this.tensors.get(name);
    return t && { name: t.name, dtype: t.dtype, shape: [...t.shape] };
  }

  read(name: string): RawTensor {
    const t = this.tensors.get(name);
    if (!t) throw new ModelLoadError(this.path, `missing tensor ${name}`);
    return t;
  }

  close(): void {
    this.tensors.clear();
  }
}
