// `pensieve bench`: the multi-turn serving benchmark (bench/multiturn/). Starts the systems it
// compares (pensieve serve in each cache mode and client path, llama.cpp's llama-server, or
// node-llama-cpp behind an adapter) or talks to a
// running server, replays multi-turn conversations from real data, and writes results.json,
// results.md and PNG plots.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { APIS, type Api } from '../../bench/multiturn/client.js';
import { installLlamaCpp } from '../../bench/multiturn/llama-cpp.js';
import { DEFAULT_CONFIG, ensureBenchModel, hasNoGgufForm } from '../../bench/multiturn/model.js';
import { SHARED } from '../../bench/multiturn/paths.js';
import { readReports, writeReport } from '../../bench/multiturn/report.js';
import { runBench, type BenchConfig } from '../../bench/multiturn/run.js';
import { DEFAULT_COMPARE, SYSTEMS, isCluster, isPensieveMode, parseServerArgs, parseSystem, systemSpec } from '../../bench/multiturn/systems.js';
import { SYNTHETIC_DEFAULTS, WORKLOADS, type WorkloadKind } from '../../bench/multiturn/workload.js';
import { BLOCK_SIZE } from '../cache/chunk-layout.js';
import { KvCache, kvDTypeForWeights } from '../model/kv-cache.js';
import { openModelFiles } from '../model/model-files.js';
import { parseBytes } from './engine-flags.js';
import { CliError } from './errors.js';
import { numberFlag } from './flags.js';

/** Mean think time of the agent workload: a tool running, not a person typing (at --time-scale 1). */
const AGENT_THINK_TIME_S = 2;

/**
 * The agent workload's default model shape: the default SmolLM2 shape has a 2048-token context
 * (the preamble alone is up to 4K) and a vocabulary cut to 49152 ids, which drops Qwen2.5's chat
 * template and so its tools.
 */
const AGENT_CONFIG = path.join(SHARED, 'models', 'configs', 'Qwen2.5-0.5B-Instruct.json');

const HELP = `usage: pensieve bench [options]

Replays multi-turn conversations against one or more servers and reports latency, throughput
and cache reuse (results.json, results.md, throughput-latency.png, hit-rate.png in --out).

What to run
  --compare [SYSTEMS]          start each system in turn and compare them: a comma list of
                               ${SYSTEMS.join(', ')}; a Pensieve mode followed by
                               /chat is driven by clients resending the history to chat
                               completions instead of Responses chains (e.g. pensieve/chat)
                               (default: ${DEFAULT_COMPARE.join(', ')})
  --system NAME                start one system (default: pensieve)
  --url URL                    benchmark a running server instead (e.g. http://127.0.0.1:8000/v1)
  --api responses|chat         with --url: stateful turns (previous_response_id, default) or
                               stateless ones (the whole history to /v1/chat/completions)
  --model PATH                 model for the servers (default: random weights in SmolLM2-135M's
                               shape with Qwen2.5's vocabulary, made once by make-model)
  --model-config FILE          a config.json shape for the random-weight model instead (e.g.
                               bench/configs/opt-125m.json: OPT, the paper's family, is made
                               as safetensors and served by Pensieve only; llama.cpp has no OPT)
  --kv-cache-memory SIZE       device KV cache of the pensieve servers (default 64M)
  --server-args SYSTEM=FLAGS   extra flags for a system's server, repeatable; SYSTEM 'all' means
                               every pensieve mode (e.g. pensieve=--kv-host-memory 1G)
  --host-memory SIZE           host memory for cached KV: Pensieve's host tier (--kv-host-memory
                               of the pensieve mode) and llama-server's prompt cache (--cache-ram)
                               (default 0: none for either)
  --llama-sequences N          llama.cpp sequences, llama-server slots (default: as many
                               --max-context-tokens sequences as Pensieve's KV cache holds tokens)
  --llama-threads N            llama.cpp threads (default: one per core)
                               llama-server gets Pensieve's KV budget in tokens (--ctx-size with
                               --kv-unified); --server-args llama-server=FLAGS adds its own flags

Workload
  --workload NAME              ${WORKLOADS.join(' | ')} (default synthetic); agent: 2-4K tokens of
                               system prompt + 5 tools, 10-30 forced tool calls answered with short
                               results, a last answer in text (Pensieve and llama-server, not the
                               llama.cpp adapter; think time 2 s at time scale 1; its default model
                               is random weights in Qwen2.5-0.5B-Instruct's shape, whose whole
                               vocabulary keeps Qwen2.5's template with its tools, and whose
                               context holds the preamble; --max-context-tokens defaults to 8192)
  --synthetic-turns DIST       turns per conversation (default ${SYNTHETIC_DEFAULTS.turns})
  --synthetic-input DIST       user tokens per turn (default ${SYNTHETIC_DEFAULTS.input})
  --synthetic-output DIST      reply tokens per turn (default ${SYNTHETIC_DEFAULTS.output})
                               DIST: const:N | uniform:LO:HI | exp:MEAN | lognormal:MEDIAN:SIGMA,
                               optionally followed by :MIN:MAX
  --output-len N               every reply exactly N tokens (ignore EOS)
  --max-output-len N           cap on reply lengths taken from the data (default 256)
  --max-context-tokens N       end a conversation before it grows past N tokens (default 2048)

Load
  --rate R[,R,...]             new conversations per second (Poisson); several values sweep
                               (default 0.1)
  --repeat N                   runs per system and rate, interleaved across systems; the
                               comparison takes their medians (default 1)
  --think-time S               mean think time between turns, exponential (default 60)
  --time-scale F               multiply think times by F, for short runs (default 0.05)
  --max-active-conversations N (default 16)
  --duration S                 seconds during which conversations arrive (default 60), or
  --num-conversations N        this many conversations
  --drain-timeout S            after the last arrival, abort what is unfinished (default 300)
  --temperature T              (default 0, greedy; above 0 each turn has its own seed, the same
                               in every system)
  --seed N                     workload, arrivals and sampling seeds (default 0)

Metrics and output
  --slo-ttft S  --slo-tpot S   objectives for goodput (seconds)
  --latency-target S           p90 normalized latency (s/token) at which systems are compared
                               (default: 1.25 × the highest lowest-rate p90 of the systems)
  --stop-latency S             do not push a system to higher rates once its p90 normalized
                               latency passed S s/token (default 2)
  --out DIR                    (default .pensieve/bench/multiturn-<time>)
  --report FILE[,FILE...]      render results.md and the plots again from results.json files
                               (several: merged, a system's runs at one rate count as repeats)
  --json                       also print the report as JSON on stdout
`;

export async function runBenchCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      compare: { type: 'boolean', default: false },
      system: { type: 'string' },
      url: { type: 'string' },
      api: { type: 'string' },
      model: { type: 'string' },
      'model-config': { type: 'string' },
      'kv-cache-memory': { type: 'string', default: '64M' },
      'server-args': { type: 'string', multiple: true, default: [] },
      'host-memory': { type: 'string' },
      'llama-sequences': { type: 'string' },
      'llama-threads': { type: 'string' },
      workload: { type: 'string', default: 'synthetic' },
      'synthetic-turns': { type: 'string' },
      'synthetic-input': { type: 'string' },
      'synthetic-output': { type: 'string' },
      'output-len': { type: 'string' },
      'max-output-len': { type: 'string' },
      'max-context-tokens': { type: 'string' },
      rate: { type: 'string', default: '0.1' },
      'think-time': { type: 'string' },
      'time-scale': { type: 'string' },
      'max-active-conversations': { type: 'string' },
      repeat: { type: 'string' },
      duration: { type: 'string' },
      'num-conversations': { type: 'string' },
      'drain-timeout': { type: 'string' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
      'slo-ttft': { type: 'string' },
      'slo-tpot': { type: 'string' },
      'latency-target': { type: 'string' },
      'stop-latency': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  if (values.report !== undefined) {
    const sources = values.report.split(',');
    const { files } = writeReport(readReports(sources), values.out ?? path.dirname(sources[0]!));
    log(`wrote ${files.join(', ')}`);
    return;
  }
  const systems = selectSystems(values.compare, positionals, values.system, values.url);
  const extra = parseServerArgs(values['server-args']);
  const workload = values.workload as WorkloadKind;
  if (!WORKLOADS.includes(workload)) throw new CliError(`--workload must be one of ${WORKLOADS.join(', ')}, got '${values.workload}'`);
  const api = (values.api ?? 'responses') as Api;
  if (!APIS.includes(api)) throw new CliError(`--api must be one of ${APIS.join(', ')}, got '${values.api}'`);
  const rates = values.rate.split(',').map((r) => numberFlag(r.trim(), 'rate', { min: Number.MIN_VALUE })!).sort((a, b) => a - b);
  const int = (name: keyof typeof values, min = 1) => numberFlag(values[name] as string | undefined, name, { integer: true, min });
  const num = (name: keyof typeof values, min = 0) => numberFlag(values[name] as string | undefined, name, { min });
  const outputLen = int('output-len');
  if (workload === 'agent' && systems.some((s) => parseSystem(s).name === 'llama.cpp')) throw new CliError('--workload agent needs tool calling, which the llama.cpp adapter does not offer');
  const maxContextTokens = int('max-context-tokens') ?? (workload === 'agent' ? 8192 : 2048);
  const agent = workload === 'agent';
  const duration = num('duration');
  const numConversations = int('num-conversations');
  if (duration !== undefined && numConversations !== undefined) throw new CliError('give --duration or --num-conversations, not both');

  const modelConfig = values['model-config'] ?? (workload === 'agent' ? AGENT_CONFIG : DEFAULT_CONFIG);
  const model = values.url ? (values.model ?? 'external') : (values.model ?? ensureBenchModel({ config: modelConfig, log }));
  const llamaSystems = systems.filter((s) => !isPensieveMode(parseSystem(s).name));
  if (llamaSystems.length > 0 && !values.url && values.model === undefined && hasNoGgufForm(modelConfig)) {
    throw new CliError(`${llamaSystems.join(' and ')} cannot serve this --model-config (no GGUF form, e.g. OPT): bench the pensieve systems only`);
  }
  if (systems.some((s) => parseSystem(s).name === 'llama.cpp')) installLlamaCpp(log);
  const kvCacheMemory = values['kv-cache-memory'];
  const kvTokens = values.url ? 0 : kvCapacityTokens(model, parseBytes(kvCacheMemory, 'kv-cache-memory'));
  const hostMemory = values['host-memory'] === undefined ? 0 : parseBytes(values['host-memory'], 'host-memory');
  const flagsOf = (label: string): string[] => {
    const { name } = parseSystem(label);
    const hostTier = (name === 'pensieve' || isCluster(name)) && hostMemory > 0 ? ['--kv-host-memory', String(hostMemory)] : [];
    return [...(isPensieveMode(name) ? (extra.get('all') ?? []) : []), ...hostTier, ...(extra.get(name) ?? [])];
  };
  const config: BenchConfig = {
    systems: systems.map((label) => systemSpec(label, flagsOf(label))),
    ...(values.url ? { url: { origin: values.url.replace(/\/v1\/?$/, '').replace(/\/$/, ''), api, label: `server (${api})` } } : {}),
    model,
    kvCacheMemory,
    rates,
    repeats: int('repeat') ?? 1,
    load: {
      thinkTime: num('think-time') ?? (agent ? AGENT_THINK_TIME_S : 60),
      timeScale: num('time-scale') ?? (agent ? 1 : 0.05),
      maxActive: int('max-active-conversations') ?? 16,
      ...(numConversations !== undefined ? { numConversations } : { duration: duration ?? 60 }),
      drainTimeout: num('drain-timeout') ?? 300,
      seed: int('seed', 0) ?? 0,
      maxContextTokens,
    },
    sampling: { temperature: num('temperature') ?? 0, ignoreEos: outputLen !== undefined },
    workload: {
      kind: workload,
      seed: int('seed', 0) ?? 0,
      ...(outputLen !== undefined ? { outputLen } : {}),
      maxOutputTokens: int('max-output-len') ?? 256,
      maxInputTokens: Math.floor(maxContextTokens / 2),
      syntheticTurns: values['synthetic-turns'],
      syntheticInput: values['synthetic-input'],
      syntheticOutput: values['synthetic-output'],
    },
    slo: { ttft: num('slo-ttft'), tpot: num('slo-tpot') },
    llama: {
      sequences: int('llama-sequences') ?? Math.max(1, Math.floor(kvTokens / maxContextTokens)),
      contextSize: maxContextTokens,
      threads: int('llama-threads') ?? (await import('node:os')).availableParallelism(),
    },
    kvTokens,
    hostMemoryMiB: Math.floor(hostMemory / 2 ** 20),
    stopLatency: num('stop-latency') ?? 2,
    latencyTarget: num('latency-target') ?? null,
    outDir: values.out ?? path.join('.pensieve', 'bench', `multiturn-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    log,
  };
  const report = await runBench(config, ['pensieve bench', ...argv].join(' '));
  const { comparison, files } = writeReport(report, config.outDir);
  log(`wrote ${files.join(', ')}`);
  if (comparison) {
    for (const r of comparison.ratios) log(`${r.base} vs ${r.system} at p90 normalized latency ≤ ${comparison.latencyTarget} s/token: ${r.ratio.toFixed(2)}×${r.note ? ` (${r.note})` : ''}`);
  }
  if (values.json) process.stdout.write(JSON.stringify({ ...report, comparison }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
}

/** The systems' labels (`pensieve`, `prefix/chat`, `llama-server`), each checked. */
function selectSystems(compare: boolean, positionals: string[], system: string | undefined, url: string | undefined): string[] {
  if (url !== undefined) {
    if (compare || system !== undefined) throw new CliError('--url benchmarks one running server: drop --compare and --system');
    return [];
  }
  const labels = compare ? (positionals[0]?.split(',').map((s) => s.trim()) ?? [...DEFAULT_COMPARE]) : [system ?? 'pensieve'];
  if (positionals.length > (compare ? 1 : 0)) throw new CliError(`unexpected argument '${positionals.at(-1)}'`);
  for (const label of labels) {
    try {
      parseSystem(label);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  }
  if (new Set(labels).size !== labels.length) throw new CliError(`a system is named twice in '${labels.join(',')}'`);
  return labels;
}

/**
 * How many tokens of KV `bytes` hold for this model in Pensieve (BLOCK_SIZE-token blocks, the KV dtype
 * --kv-dtype auto picks: bf16 for bf16 and q8_0 weights, f32 otherwise).
 */
function kvCapacityTokens(model: string, bytes: number): number {
  const { config, tensors } = openModelFiles(model);
  const weights = tensors.info('model.layers.0.self_attn.q_proj.weight')?.dtype ?? 'f32';
  return KvCache.blocksFor(config, bytes, BLOCK_SIZE, kvDTypeForWeights(weights)) * BLOCK_SIZE;
}
