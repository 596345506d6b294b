// The flags that configure the engine and its server, shared by `serve` and `chat`.
import * as os from 'node:os';
import * as path from 'node:path';
import type { CacheMode } from '../cache/kv-cache-manager.js';
import type { EvictionPolicyName } from '../engine/engine.js';
import type { EngineWorkerOptions } from '../engine/protocol.js';
import { redisUrlForDisplay } from '../engine/tiers/redis-url.js';
import type { KvDType } from '../model/kv-cache.js';
import { CliError } from './errors.js';
import { numberFlag, weightFormatFlag } from './flags.js';

export const ENGINE_FLAG_SPEC = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  'chat-template': { type: 'string' },
  weights: { type: 'string' },
  threads: { type: 'string' },
  'kv-cache-memory': { type: 'string' },
  'kv-dtype': { type: 'string' },
  'max-num-seqs': { type: 'string' },
  'max-num-batched-tokens': { type: 'string' },
  'cache-mode': { type: 'string' },
  'kv-host-memory': { type: 'string' },
  'kv-disk-dir': { type: 'string' },
  'kv-disk-space': { type: 'string' },
  eviction: { type: 'string' },
  'swap-out-threshold': { type: 'string' },
  'data-dir': { type: 'string' },
  'max-model-len': { type: 'string' },
  'shared-kv': { type: 'string' },
  'shared-kv-timeout': { type: 'string' },
} as const;

export const ENGINE_FLAG_HELP = `  --model PATH                 GGUF file, Hugging Face directory or llama2.c checkpoint
                               (default: the built-in demo model)
  --tokenizer PATH             tokenizer file or directory, when not beside the model
  --chat-template FILE         a Jinja chat template (or tokenizer_config.json) overriding the model's
  --weights FORMAT             auto | f32 | bf16 | q8_0 (default auto)
  --threads N                  kernel threads (default: one per core)
  --kv-cache-memory BYTES      KV cache size, e.g. 512M, 2G (default 1G)
  --kv-dtype TYPE              auto | f32 | bf16: how K/V values are stored in every tier
                               (default auto: bf16 for bf16 and q8_0 weights, f32 for f32 weights)
  --max-num-seqs N             sequences per step (default 64)
  --max-num-batched-tokens N   tokens per step (default 2048)
  --cache-mode MODE            pensieve (keep conversations' KV across turns, default) |
                               prefix (device prefix cache only) | stateless (no reuse)
  --kv-host-memory BYTES       host tier below the KV cache, in RAM (pensieve mode; default 2G, 0 = off)
  --kv-disk-dir DIR            disk tier directory; its chunks survive restarts (default DATA-DIR/kv)
  --kv-disk-space BYTES        disk tier size (pensieve mode; default 8G, 0 = off)
  --eviction POLICY            retention (V = recompute cost / idle time, default) | lru
  --swap-out-threshold F       copy idle chunks down ahead of time while fewer than this
                               fraction of KV blocks are free (default 0.25)
  --data-dir DIR               conversations, responses and token histories (default ~/.pensieve)
  --max-model-len N            longest prompt plus reply, in tokens (default: the model's context,
                               capped with a warning to what --kv-cache-memory holds for one request);
                               also picks LongRoPE's short/long factors and dynamic NTK's base
  --shared-kv redis://HOST:PORT[/DB]
                               a KV tier shared by replicas, below the disk tier (pensieve mode; needs
                               the disk tier): chunks written to disk are copied there, a prompt's
                               chunks missing locally are fetched from there, and a shutdown sends
                               the resident ones. Bound it with Redis's maxmemory + allkeys-lru
  --shared-kv-timeout MS       how long a request waits for the shared tier before computing instead
                               (default 2000)
`;

export type EngineFlagValues = { [K in keyof typeof ENGINE_FLAG_SPEC]?: string };

const CACHE_MODES: readonly CacheMode[] = ['pensieve', 'prefix', 'stateless'];
const KV_DTYPES: readonly (KvDType | 'auto')[] = ['auto', 'f32', 'bf16'];
const EVICTION_POLICIES: readonly EvictionPolicyName[] = ['retention', 'lru'];

/** "512M", "2G", "1.5GiB", "1048576" → bytes. */
export function parseBytes(value: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw new CliError(`--${name} must be a size like 512M or 2G, got '${value}'`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * scale);
}

export function engineOptions(v: EngineFlagValues): EngineWorkerOptions & { dataDir: string } {
  const cacheMode = (v['cache-mode'] ?? 'pensieve') as CacheMode;
  if (!CACHE_MODES.includes(cacheMode)) throw new CliError(`--cache-mode must be one of ${CACHE_MODES.join(', ')}, got '${v['cache-mode']}'`);
  const eviction = (v.eviction ?? 'retention') as EvictionPolicyName;
  if (!EVICTION_POLICIES.includes(eviction)) throw new CliError(`--eviction must be one of ${EVICTION_POLICIES.join(', ')}, got '${v.eviction}'`);
  const kvDType = (v['kv-dtype'] ?? 'auto') as KvDType | 'auto';
  if (!KV_DTYPES.includes(kvDType)) throw new CliError(`--kv-dtype must be one of ${KV_DTYPES.join(', ')}, got '${v['kv-dtype']}'`);
  const dataDir = v['data-dir'] ?? path.join(os.homedir(), '.pensieve');
  return {
    model: v.model,
    tokenizer: v.tokenizer,
    chatTemplate: v['chat-template'],
    weightFormat: weightFormatFlag(v.weights),
    threads: numberFlag(v.threads, 'threads', { integer: true, min: 1 }),
    kvCacheMemory: parseBytes(v['kv-cache-memory'] ?? '1G', 'kv-cache-memory'),
    kvDType,
    maxNumSeqs: numberFlag(v['max-num-seqs'], 'max-num-seqs', { integer: true, min: 1 }) ?? 64,
    maxNumBatchedTokens: numberFlag(v['max-num-batched-tokens'], 'max-num-batched-tokens', { integer: true, min: 1 }) ?? 2048,
    cacheMode,
    kvHostMemory: parseBytes(v['kv-host-memory'] ?? '2G', 'kv-host-memory'),
    kvDiskDir: v['kv-disk-dir'] ?? path.join(dataDir, 'kv'),
    kvDiskSpace: parseBytes(v['kv-disk-space'] ?? '8G', 'kv-disk-space'),
    eviction,
    swapOutThreshold: numberFlag(v['swap-out-threshold'], 'swap-out-threshold', { min: 0, max: 1 }) ?? 0.25,
    maxModelLen: numberFlag(v['max-model-len'], 'max-model-len', { integer: true, min: 2 }),
    sharedKv: sharedKvFlag(v['shared-kv'], cacheMode),
    sharedKvTimeoutMs: numberFlag(v['shared-kv-timeout'], 'shared-kv-timeout', { integer: true, min: 1 }),
    dataDir,
  };
}

/** --shared-kv: a Redis URL, in pensieve mode only. */
function sharedKvFlag(value: string | undefined, cacheMode: CacheMode): string | undefined {
  if (value === undefined) return undefined;
  if (cacheMode !== 'pensieve') throw new CliError(`--shared-kv needs --cache-mode pensieve, got '${cacheMode}'`);
  try {
    redisUrlForDisplay(value);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return value;
}
