// Shared by the tier tests: the stories260K engine with small tiers, an async drain that
// lets disk I/O land between steps (as the worker's event loop does), and a stateless
// reference to compare greedy outputs with.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Engine, type EngineEvent, type EngineOptions } from '../../../src/engine/engine.js';
import { GREEDY } from '../../../src/engine/sampler.js';
import { KvCache, type KvDType } from '../../../src/model/kv-cache.js';
import { loadModel, type LoadedModel } from '../../../src/model/load.js';
import { MODELS } from '../../helpers/paths.js';

export type Finish = Extract<EngineEvent, { type: 'finish' }>;

export function loadStories(): Promise<LoadedModel> {
  return loadModel(path.join(MODELS, 'stories260K', 'stories260K.gguf'));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Bytes of one 32-token chunk of the model's KV (every layer, K and V). */
export function chunkBytes(model: LoadedModel, kvDType: KvDType = 'f32'): number {
  return 2 * KvCache.bytesPerBlock(model.config, 16, kvDType);
}

export function tieredEngine(
  model: LoadedModel,
  tiers: { deviceBlocks: number; hostChunks: number; diskChunks: number; diskDir?: string },
  extra: Partial<EngineOptions> & { kvDType?: KvDType } = {},
): Engine {
  const kvDType = extra.kvDType ?? 'f32';
  return new Engine(model, {
    kvCacheMemory: tiers.deviceBlocks * KvCache.bytesPerBlock(model.config, 16, kvDType),
    kvHostMemory: tiers.hostChunks * chunkBytes(model, kvDType),
    kvDiskDir: tiers.diskDir,
    // Disk slots are the chunk plus a 4 KiB header.
    kvDiskSpace: tiers.diskChunks * (chunkBytes(model, kvDType) + 4096),
    maxNumSeqs: 8,
    maxNumBatchedTokens: 128,
    cacheMode: 'pensieve',
    ...extra,
  });
}

/** Steps until every request finished, yielding to the event loop so disk I/O lands. */
export async function drain(e: Engine, onStep?: () => void): Promise<Map<string, Finish>> {
  const done = new Map<string, Finish>();
  for (let guard = 0; e.hasWork(); guard++) {
    assert.ok(guard < 200000, 'the engine made no progress');
    for (const ev of e.step()) {
      assert.notEqual(ev.type, 'error', ev.type === 'error' ? ev.message : '');
      if (ev.type === 'finish') done.set(ev.requestId, ev);
    }
    onStep?.();
    const io = e.ioWait();
    if (io !== null) await io;
    else if (guard % 4 === 0) await yieldToLoop();
  }
  return done;
}

/** Greedy outputs of each prompt computed from scratch (one stateless batch). */
export async function statelessOutputs(
  model: LoadedModel, jobs: readonly { prompt: number[]; maxTokens: number }[], kvDType: KvDType = 'f32',
): Promise<number[][]> {
  const e = new Engine(model, {
    kvCacheMemory: 512 * KvCache.bytesPerBlock(model.config, 16, kvDType), kvDType, maxNumSeqs: 32, maxNumBatchedTokens: 512, cacheMode: 'stateless',
  });
  jobs.forEach((j, i) => e.add({ id: `ref${i}`, promptTokens: j.prompt, conversationId: null, sampling: GREEDY, maxTokens: j.maxTokens }));
  const done = await drain(e);
  return jobs.map((_, i) => done.get(`ref${i}`)!.outputTokens);
}

