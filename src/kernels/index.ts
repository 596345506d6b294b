// Chooses the kernel backend. The native CPU backend serves; PENSIEVE_KERNELS=reference
// swaps in the TypeScript reference kernels (slow; for debugging a wrong answer).
// A GPU backend will plug in here behind the same interface.
import { referenceKernels } from './reference.js';
import type { Kernels } from './types.js';

export type { Kernels } from './types.js';

export async function defaultKernels(): Promise<Kernels> {
  if (process.env.PENSIEVE_KERNELS === 'reference') return referenceKernels;
  const { nativeKernels } = await import('./native.js');
  return nativeKernels;
}
