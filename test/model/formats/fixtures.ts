// Shared by the format tests: small versions of real model configs, a scratch directory, and an
// independent (test-side) copy of the GGUF Q/K row permutation to check the src one against.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configFromHf, type ModelConfig } from '../../../src/model/config.js';

export const SHARED_MODELS = path.resolve(import.meta.dirname, '../../../../shared/models');

export function realConfig(file: string): ModelConfig {
  const p = path.join(SHARED_MODELS, 'configs', file);
  return configFromHf(JSON.parse(fs.readFileSync(p, 'utf8')), p);
}

/**
 * A real config shrunk for fast tests: same head counts, architecture, RoPE and tying; fewer
 * layers, smaller heads and vocab. Dims stay multiples of 32 so q8_0 applies to every weight.
 */
export function scaledConfig(file: string, s: { numLayers: number; headDim: number; intermediateSize: number; vocabSize: number }): ModelConfig {
  const c = realConfig(file);
  return {
    ...c,
    ...s,
    hiddenSize: c.numHeads * s.headDim,
    bosTokenId: c.bosTokenId === null ? null : c.bosTokenId % s.vocabSize,
    eosTokenIds: c.eosTokenIds.map((id) => (id % s.vocabSize)),
  };
}

export function scratchDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-model-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** GGUF (consecutive-pair) rows back to HF rotate-half rows: HF h*hd + s*hd/2 + j ← GGUF h*hd + 2j + s. */
export function ggufRowsToHf(data: Uint8Array, rows: number, heads: number): Uint8Array {
  const rowBytes = data.byteLength / rows;
  const hd = rows / heads;
  const out = new Uint8Array(data.byteLength);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < hd / 2; j++) {
        const from = (h * hd + 2 * j + s) * rowBytes;
        out.set(data.subarray(from, from + rowBytes), (h * hd + s * (hd / 2) + j) * rowBytes);
      }
    }
  }
  return out;
}
