// The systems a comparison runs, each started as its own server process on a free loopback
// port with the same model: `pensieve serve` in its three cache modes, llama.cpp's own
// llama-server (built for this CPU), and node-llama-cpp behind our adapter. Extra flags can be
// given per system (e.g. the host/disk tiers for pensieve). A Pensieve mode can be driven by
// either client path: `pensieve` (Responses chains) or `pensieve/chat` (chat completions
// resending the history), so both can run interleaved in one comparison. `cluster` and
// `cluster-rr` are `pensieve cluster`: replicas in pensieve mode behind HAProxy, routed by each
// conversation's key (affinity) or round robin, for the routing benchmark (issue 17). Each
// cluster run gets a scratch Redis of its own as its shared KV tier (the workload's seed repeats
// the same conversations run after run: a Redis kept across runs would serve a later run the
// chunks of an earlier one), unless its --server-args give --shared-kv.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Api } from './client.js';
import { freePort } from '../../test/helpers/free-port.js';
import { NO_REDIS, startRedis, type RedisServer } from '../../test/helpers/redis.js';
import { startLlamaServer } from './llama-server.js';
import { CLI, REPO_ROOT } from './paths.js';

export const SYSTEMS = ['stateless', 'prefix', 'pensieve', 'llama-server', 'llama.cpp', 'cluster', 'cluster-rr'] as const;
export type SystemName = (typeof SYSTEMS)[number];
/** The systems a bare `--compare` runs (llama.cpp, the node-llama-cpp adapter, only on request). */
export const DEFAULT_COMPARE: readonly SystemName[] = ['stateless', 'prefix', 'pensieve', 'llama-server'];

export interface SystemSpec {
  name: SystemName;
  /** What results are filed under: the name, with `/chat` when a Pensieve mode is driven by resends. */
  label: string;
  /** How the simulated users continue a conversation on this system. */
  api: Api;
  /** Flags appended to the server's command line. */
  extraArgs: string[];
}

/** Whether the system is `pensieve serve` in one of its cache modes (or replicas of it in pensieve mode). */
export function isPensieveMode(name: SystemName): boolean {
  return name !== 'llama.cpp' && name !== 'llama-server';
}

/** Whether the system is `pensieve cluster`: replicas in pensieve mode behind HAProxy. */
export function isCluster(name: SystemName): boolean {
  return name === 'cluster' || name === 'cluster-rr';
}

/**
 * `pensieve`, `prefix/chat`, `llama-server`: the system and its client path. Pensieve's modes take
 * stateful requests (previous_response_id) unless `/chat` says resends, so by default the cache
 * mode is the only difference; llama.cpp's servers take chat completions (history resent each
 * turn), their natural use.
 */
export function parseSystem(label: string): { name: SystemName; api: Api } {
  const [name, api, ...rest] = label.split('/');
  if (!SYSTEMS.includes(name as SystemName) || rest.length > 0 || (api !== undefined && api !== 'chat' && api !== 'responses')) {
    throw new RangeError(`unknown system '${label}': use ${SYSTEMS.join(', ')}, a Pensieve mode optionally followed by /chat or /responses`);
  }
  const system = name as SystemName;
  if (!isPensieveMode(system) && api === 'responses') throw new RangeError(`${system} has no Responses API with stored state: use '${system}'`);
  return { name: system, api: !isPensieveMode(system) ? 'chat' : ((api ?? 'responses') as Api) };
}

export function systemSpec(label: string, extraArgs: string[] = []): SystemSpec {
  const { name, api } = parseSystem(label);
  return { name, label: isPensieveMode(name) && api === 'chat' ? `${name}/chat` : name, api, extraArgs };
}

export interface ServerSetup {
  model: string;
  /** Device KV cache of the pensieve servers (bytes or "64M"). */
  kvCacheMemory: string;
  /** A fresh folder per server start (SQLite store). */
  dataDir: string;
  logFile: string;
  /** llama.cpp: sequences in its one context and tokens per sequence. */
  llama: { sequences: number; contextSize: number; threads: number };
  /** llama-server: the KV budget of all its slots in tokens (Pensieve's device budget). */
  kvTokens: number;
  /** Host memory for llama-server's prompt cache, MiB (Pensieve's host tier budget). */
  hostMemoryMiB: number;
  env?: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface RunningSystem {
  spec: SystemSpec;
  /** http://127.0.0.1:port */
  origin: string;
  modelId: string;
  /** KV capacity in tokens, as the server announced it. */
  kvTokens: number | null;
  /** What was started, for the report (llama-server: its version and flags). */
  description: string | null;
  stop(): Promise<void>;
}

const ADAPTER = path.join(REPO_ROOT, 'bench', 'multiturn', 'llama-cpp-adapter.ts');

export async function startSystem(spec: SystemSpec, setup: ServerSetup): Promise<RunningSystem> {
  fs.mkdirSync(setup.dataDir, { recursive: true });
  if (spec.name === 'llama-server') {
    const server = await startLlamaServer({
      model: setup.model, slots: setup.llama.sequences, kvTokens: setup.kvTokens, threads: setup.llama.threads,
      cacheRamMiB: setup.hostMemoryMiB, extraArgs: spec.extraArgs, logFile: setup.logFile, log: setup.log,
    });
    const models = (await (await fetch(`${server.origin}/v1/models`)).json()) as { data: { id: string }[] };
    return { spec, origin: server.origin, modelId: models.data[0]!.id, kvTokens: setup.kvTokens, description: server.description, stop: server.stop };
  }
  let redis: RedisServer | null = null;
  if (isCluster(spec.name) && !spec.extraArgs.includes('--shared-kv')) {
    if (NO_REDIS) throw new Error(`${spec.name} needs a shared KV tier: ${NO_REDIS}, or give --server-args '${spec.name}=--shared-kv URL'`);
    redis = await startRedis('2gb');
  }
  const clusterArgs = redis === null ? [] : ['--shared-kv', redis.url];
  const argv =
    spec.name === 'llama.cpp'
      ? ['--import', 'tsx', ADAPTER, '--model', setup.model, '--port', '0',
        '--sequences', String(setup.llama.sequences), '--context-size', String(setup.llama.contextSize), '--threads', String(setup.llama.threads), ...spec.extraArgs]
      : isCluster(spec.name)
        ? [CLI, 'cluster', '--port', String(await freePort()), '--balance', spec.name === 'cluster' ? 'affinity' : 'roundrobin',
          '--model', setup.model, '--cache-mode', 'pensieve', '--kv-cache-memory', setup.kvCacheMemory, '--data-dir', setup.dataDir, ...clusterArgs, ...spec.extraArgs]
        : [CLI, 'serve', '--port', '0', '--model', setup.model, '--cache-mode', spec.name,
          '--kv-cache-memory', setup.kvCacheMemory, '--data-dir', setup.dataDir, ...spec.extraArgs];
  // Passive waits: spinning thread pools stall when the other core is busy (DESIGN.md §6).
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', ...setup.env };
  const child = spawn(process.execPath, argv, { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = fs.createWriteStream(setup.logFile, { flags: 'a' });
  log.write(`$ node ${argv.join(' ')}\n`);
  child.stderr!.pipe(log);
  // A cluster's replicas print their own banners first: only the cluster's (HAProxy's address) counts.
  const banner = await waitForBanner(child, 300_000, isCluster(spec.name) ? /pensieve cluster: serving at (http:\/\/[^ ]+\/v1)/ : null);
  const origin = banner.baseURL.replace(/\/v1$/, '');
  const models = (await (await fetch(`${origin}/v1/models`)).json()) as { data: { id: string }[] };
  return {
    spec,
    origin,
    modelId: models.data[0]!.id,
    kvTokens: banner.kvTokens,
    description: redis === null ? null : `scratch redis-server on ${redis.url} as the shared KV tier`,
    stop: async () => {
      await stopChild(child);
      await redis?.stop();
    },
  };
}

/** Waits for the "serving ... at http://.../v1" line both servers print once they listen. */
function waitForBanner(child: ChildProcess, timeoutMs: number, only: RegExp | null): Promise<{ baseURL: string; kvTokens: number | null }> {
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs / 1000} s:\n${err.slice(-2000)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = only !== null ? only.exec(err) : (/at (http:\/\/[^ ]+\/v1)\b.*?\((\d+) tokens[,)]/.exec(err) ?? /at (http:\/\/[^ ]+\/v1)/.exec(err));
      if (m) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        child.off('exit', onExit);
        resolve({ baseURL: m[1]!, kvTokens: m[2] === undefined ? null : Number(m[2]) });
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${err.slice(-2000)}`));
    };
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * `pensieve=--kv-host-memory 2G --kv-disk-dir /tmp/kv` → ['pensieve', [...]]; `all=` applies to every
 * pensieve mode. Flags go to a system whatever its client path (`pensieve` covers `pensieve/chat`).
 */
export function parseServerArgs(values: readonly string[]): Map<SystemName | 'all', string[]> {
  const out = new Map<SystemName | 'all', string[]>();
  for (const v of values) {
    const at = v.indexOf('=');
    const name = v.slice(0, at) as SystemName | 'all';
    if (at < 0 || (name !== 'all' && !SYSTEMS.includes(name as SystemName))) {
      throw new RangeError(`--server-args takes SYSTEM=FLAGS with SYSTEM one of all, ${SYSTEMS.join(', ')}; got '${v}'`);
    }
    out.set(name, [...(out.get(name) ?? []), ...v.slice(at + 1).split(/\s+/).filter((s) => s !== '')]);
  }
  return out;
}
