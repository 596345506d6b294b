// Resident memory of Pensieve with a model loaded, measured in a fresh process so nothing else the
// bench did is counted (issue 12: RSS after loading a Q4_K_M file ≤ file size + 10% + the KV
// pool). Run by bench/kernels.ts as a child:
//
//   node --expose-gc --import tsx bench/kernels-rss.ts MODEL.gguf KV_BLOCKS
//
// prints one JSON line ({"error": message} and exit code 2 when the model does not load): RSS before loading (node, the addon, the modules), after loading and a
// full GC (what a server keeps), the peak while loading, and the KV pool's bytes (allocated like
// bench/kernels.ts allocates it: untouched pages of it are not resident).
import * as fs from 'node:fs';
import { resolveKvDType } from '../src/engine/engine.js';
import { DEFAULT_BLOCK_SIZE, KvCache } from '../src/model/kv-cache.js';
import { loadModel } from '../src/model/load.js';

export interface RssReport {
  rssBeforeBytes: number;
  rssAfterBytes: number;
  peakBytes: number;
  kvPoolBytes: number;
  kvDType: string;
  weightDType: string;
}

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) * 1024;
}

const gc = (globalThis as { gc?: () => void }).gc;
const settle = () => {
  for (let i = 0; i < 3; i++) gc?.();
};

async function main(): Promise<void> {
  const [path, blocksText] = process.argv.slice(2);
  const kvBlocks = Number(blocksText);
  if (!path || !Number.isInteger(kvBlocks) || kvBlocks <= 0) throw new Error('usage: kernels-rss.ts MODEL.gguf KV_BLOCKS');
  settle();
  const rssBeforeBytes = status('VmRSS');
  const loaded = await loadModel(path, { weightFormat: 'auto' });
  const kvDType = resolveKvDType('auto', loaded);
  const kv = new KvCache(loaded.config, kvBlocks, DEFAULT_BLOCK_SIZE, kvDType);
  settle();
  const report: RssReport = {
    rssBeforeBytes,
    rssAfterBytes: status('VmRSS'),
    peakBytes: status('VmHWM'),
    kvPoolBytes: KvCache.bytesPerBlock(loaded.config, DEFAULT_BLOCK_SIZE, kvDType) * kv.numBlocks,
    kvDType,
    weightDType: loaded.transformer.weights.layers[0]?.wqkv.parts.map((p) => p.w.dtype).join('+') ?? 'unknown',
  };
  console.log(JSON.stringify(report));
}

try {
  await main();
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message }));
  process.exitCode = 2;
}
