// The checksum of KV chunk files: CRC-32C, natively at memory speed (native/crc32c.cc),
// or the TypeScript reference under PENSIEVE_KERNELS=reference. Loaded synchronously on
// first use (the disk tier opens inside the Engine's constructor).
import { optionalAddon } from './optional-addon.js';
import { crc32c as crc32cReference } from './reference.js';

type Crc32c = (data: Uint8Array, crc?: number) => number;

let impl: Crc32c | null = null;

function load(): Crc32c {
  const addon = optionalAddon<{ crc32c: Crc32c }>();
  if (addon === null) return crc32cReference;
  return (data, crc) => addon.crc32c(data, crc);
}

/** CRC-32C of `data` continuing `crc` (0 to start), as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array, crc = 0): number {
  impl ??= load();
  return impl(data, crc);
}
