// The native addon for the parts that use it outside the kernel backend (the chunk files'
// CRC-32C, their batched reads): loaded synchronously on first use (the disk tier opens inside
// the Engine's constructor), or null under PENSIEVE_KERNELS=reference, where those parts fall
// back to TypeScript. require() caches it: the same instance native.ts loads.
import { createRequire } from 'node:module';

let addon: object | null | undefined;

export function optionalAddon<T extends object>(): T | null {
  if (addon === undefined) {
    addon = process.env.PENSIEVE_KERNELS === 'reference' ? null : (createRequire(import.meta.url)('../../build/Release/pensieve_native.node') as object);
  }
  return addon as T | null;
}
