// The checksum of KV chunk files: CRC-32C, natively at memory speed (native/crc32c.cc),
// or the TypeScript reference under PENSIEVE_KERNELS=reference.
import { crc32c as crc32cReference } from './reference.js';

type Crc32c = (data: Uint8Array, crc?: number) => number;

let impl: Crc32c | null = null;

async function load(): Promise<Crc32c> {
  if (process.env.PENSIEVE_KERNELS === 'reference') return crc32cReference;
  const { addon } = await import('./native.js');
  return (data, crc) => addon.crc32c(data, crc);
}

/** Resolves the implementation once (call before the first crc32c). */
export async function loadChecksum(): Promise<void> {
  impl ??= await load();
}

/** CRC-32C of `data` continuing `crc` (0 to start), as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array, crc = 0): number {
  if (impl === null) throw new Error('crc32c: call loadChecksum() first');
  return impl(data, crc);
}
