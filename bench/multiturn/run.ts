// The benchmark's driver: for each request rate (going up), and for each repeat, run every
// system in turn: start a fresh server (fresh store, cold cache, so one run's conversations
// never warm the next), replay the workload, read the server's counters before and after, and
// summarize. Systems are interleaved rather than run one after the other so that load from
// other work on a shared machine spreads over all of them. A system whose p90 normalized
// latency passed the stop threshold is not pushed to higher rates. Also runs against an
// already running server (--url).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import type { Api, SamplingOptions, TurnRecord } from './client.js';
import { runLoad, type LoadOptions } from './load-generator.js';
import { cacheCounters, counterDelta, scrapeCounters, type CacheCounters, type Counters } from './server-metrics.js';
import { summarize, type LoadSummary, type Slo } from './summary.js';
import { startSystem, type ServerSetup, type SystemSpec } from './systems.js';
import { makeWorkload, type Workload, type WorkloadOptions } from './workload.js';

export interface BenchConfig {
  /** Systems to start, in order; or else `url`, a server already running. */
  systems: SystemSpec[];
  url?: { origin: string; api: Api; label: string };
  model: string;
  kvCacheMemory: string;
  rates: number[];
  /** Runs per (system, rate); the comparison uses their medians. */
  repeats: number;
  load: Omit<LoadOptions, 'rate' | 'api' | 'model' | 'sampling'>;
  sampling: SamplingOptions;
  workload: WorkloadOptions;
  slo: Slo;
  llama: ServerSetup['llama'];
  /** llama-server's KV budget in tokens (Pensieve's device budget, as the servers count it). */
  kvTokens: number;
  /** Host memory for llama-server's prompt cache, MiB (Pensieve's host tier budget). */
  hostMemoryMiB: number;
  /** p90 normalized latency (s/token) past which a system is not run at higher rates. */
  stopLatency: number;
  /** The latency at which throughputs are compared; null: chosen from the results. */
  latencyTarget: number | null;
  outDir: string;
  log: (line: string) => void;
}

export interface RunResult {
  system: string;
  rate: number;
  repeat: number;
  kvTokens: number | null;
  summary: LoadSummary;
  /** The server's counters over the run (null when it has no /metrics). */
  cache: CacheCounters | null;
  counters: Counters | null;
  /** 1-minute load average of the machine before and after the run. */
  loadAverage: [number, number];
  /** What was started, where the system says more than its name (llama-server's version and flags). */
  server?: string;
}

export interface BenchReport {
  command: string;
  startedAt: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; loadAverageAtStart: number[] };
  model: string;
  workload: string;
  config: Omit<BenchConfig, 'log' | 'systems' | 'url'> & { systems: string[] };
  results: RunResult[];
  /** The commands whose results were merged into this report (bench --report a.json,b.json). */
  mergedFrom?: string[];
}

export async function runBench(config: BenchConfig, command: string): Promise<BenchReport> {
  const workload = makeWorkload(config.workload);
  fs.mkdirSync(config.outDir, { recursive: true });
  const report: BenchReport = {
    command,
    startedAt: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    },
    model: config.model,
    workload: workload.description,
    config: { ...stripFunctions(config), systems: config.url ? [config.url.label] : config.systems.map((s) => s.label) },
    results: [],
  };
  const targets: Target[] = config.url
    ? [{ label: config.url.label, api: config.url.api, spec: null }]
    : config.systems.map((s) => ({ label: s.label, api: s.api, spec: s }));

  const stopped = new Set<string>();
  for (const rate of config.rates) {
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      for (const target of targets) {
        if (stopped.has(target.label)) continue;
        const result = await runOne(config, workload, target, rate, repeat);
        report.results.push(result);
        fs.writeFileSync(path.join(config.outDir, 'results.json'), JSON.stringify(report, jsonSafe, 2) + '\n');
        if (!(result.summary.normLatencyS.p90 <= config.stopLatency)) {
          config.log(`${target.label}: past the stop latency (${config.stopLatency} s/token); no further runs`);
          stopped.add(target.label);
        }
      }
    }
  }
  return report;
}

interface Target {
  label: string;
  api: Api;
  /** null: the server at config.url. */
  spec: SystemSpec | null;
}

async function runOne(config: BenchConfig, workload: Workload, target: Target, rate: number, repeat: number): Promise<RunResult> {
  const tag = `${target.label} @ ${rate}/s${config.repeats > 1 ? ` #${repeat + 1}` : ''}`;
  const serverDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-bench-run-'));
  try {
    const running = target.spec
      ? await startSystem(target.spec, {
        model: config.model,
        kvCacheMemory: config.kvCacheMemory,
        dataDir: path.join(serverDir, 'data'),
        logFile: path.join(config.outDir, `server-${target.label.replace('/', '-')}.log`),
        llama: config.llama,
        kvTokens: config.kvTokens,
        hostMemoryMiB: config.hostMemoryMiB,
        log: config.log,
      })
      : null;
    try {
      const origin = running?.origin ?? config.url!.origin;
      const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: process.env.OPENAI_API_KEY ?? 'unused', maxRetries: 0, timeout: 3_600_000 });
      const modelId = running?.modelId ?? (await client.models.list()).data[0]!.id;
      await warmUp(client, modelId);
      const before = await scrapeCounters(origin);
      const load1 = os.loadavg()[0]!;
      config.log(`${tag}: running (${running?.kvTokens ?? '?'} KV tokens)`);
      let done = 0;
      const load = await runLoad(client, workload, { ...config.load, rate, api: target.api, model: modelId, sampling: config.sampling }, (r: TurnRecord) => {
        if (++done % 25 === 0) config.log(`${tag}: ${done} turns (last ${r.status}, ${((r.endAt - r.sentAt) / 1000).toFixed(2)} s)`);
      });
      const counters = counterDelta(before, await scrapeCounters(origin));
      const summary = summarize(load, config.slo);
      config.log(
        `${tag}: ${summary.requests.completed} turns in ${summary.elapsedS.toFixed(1)} s, ${summary.requestThroughput.toFixed(3)} req/s, ` +
        `p90 normalized latency ${summary.normLatencyS.p90.toFixed(3)} s/token, hit rate ${(100 * summary.hitRate).toFixed(1)}%` +
        (summary.requests.failed + summary.requests.aborted > 0 ? `, ${summary.requests.failed} failed, ${summary.requests.aborted} aborted` : ''),
      );
      if (summary.errors.length > 0) config.log(`${tag}: errors: ${summary.errors.join(' | ')}`);
      return {
        system: target.label, rate, repeat, kvTokens: running?.kvTokens ?? null, summary,
        cache: cacheCounters(counters), counters, loadAverage: [Number(load1.toFixed(2)), Number(os.loadavg()[0]!.toFixed(2))],
        ...(running?.description ? { server: running.description } : {}),
      };
    } finally {
      await running?.stop();
    }
  } finally {
    fs.rmSync(serverDir, { recursive: true, force: true });
  }
}

/** One short request so that lazy start-up work (weight packing, first allocations) is not measured. */
async function warmUp(client: OpenAI, model: string): Promise<void> {
  await client.chat.completions.create({ model, messages: [{ role: 'system', content: 'warm-up' }, { role: 'user', content: 'hi' }], max_tokens: 2 });
}

function stripFunctions<T extends object>(config: T): Omit<T, 'log' | 'systems' | 'url'> {
  const { log: _log, systems: _systems, url: _url, ...rest } = config as T & { log: unknown; systems: unknown; url: unknown };
  return rest as Omit<T, 'log' | 'systems' | 'url'>;
}

/** JSON has no Infinity: unfinished turns' latencies are written as the string "inf". */
export function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? (Number.isNaN(value) ? null : 'inf') : value;
}
