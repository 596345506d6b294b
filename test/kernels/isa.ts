// Shared by the native kernel tests: run a check on every ISA path this CPU has,
// and compare against the reference with |native − reference| ≤ 1e-5·(1 + |reference|).
import assert from 'node:assert/strict';
import { addon } from '../../src/kernels/native.js';

export type Isa = 'scalar' | 'avx2' | 'avx512';
const cpu = addon.cpuInfo();
export const ISAS: Isa[] = (['scalar', 'avx2', 'avx512'] as const).filter((isa) => isa === 'scalar' || cpu[isa]);

export function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 * (1 + Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, reference ${expected[i]} (tolerance ${tol})`);
    }
  }
}

export function forEachIsa(fn: (isa: Isa) => void): void {
  for (const isa of ISAS) {
    addon.setMaxIsa(isa);
    try {
      fn(isa);
    } finally {
      addon.setMaxIsa('avx512');
    }
  }
}
