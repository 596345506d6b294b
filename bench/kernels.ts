// `npm run bench:kernels`: model-level kernel speed on a real shape (Qwen2.5-0.5B by default) in
// bf16, q8_0, Q4_K_M and Q4_0, each figure beside (a) this machine's roofline, probed in the same
// run, and (b) llama.cpp built for this CPU (bench/llama-cpp/build.ts; `llama-bench` for decode and
// prefill, `llama-batched-bench` for batched decode) on the same GGUF, interleaved with ours round
// by round so both see the same load. Prints medians over rounds as Markdown tables and issue 12's
// targets as PASS/FAIL. A benchmark, not a test: numbers depend on what else the machine runs.
//
//   npm run bench:kernels -- [--rounds N] [--formats bf16,q8_0,q4_k_m,q4_0] [--config FILE]
//     [--no-llama] [--llama-threads N] [--llama-reps N] [--prebuilt]
//     [--prefills 128,512,2048] [--decode-context 128] [--decode-steps 32] [--batches 8:16,32:8] [--attention-context 4096]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { addon } from '../src/kernels/native.js';
import { configFromHf } from '../src/model/config.js';
import { benchAttention } from './kernels-attention.js';
import { installLlamaCpp, llamaSystemInfo, loadLlamaCpp } from './kernels-llama.js';
import { loadLlamaCppNative, type LlamaNativeInfo } from './kernels-llama-native.js';
import { benchModel, checkFormat, tensorBytes, type BenchModel } from './kernels-models.js';
import { kvBlocksFor, loadOurs } from './kernels-ours.js';
import { report, type BenchRun, type FormatRun, type Probe, type ProbeInstructions, type RoundLoad, type Samples } from './kernels-report.js';
import type { RssReport } from './kernels-rss.js';
import type { EngineUnderTest } from './kernels-types.js';
import { ensureLlamaCppBuild, type LlamaCppBuild } from './llama-cpp/build.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    formats: { type: 'string', default: 'bf16,q8_0,q4_k_m,q4_0' },
    config: { type: 'string', default: `${ROOT}../shared/models/configs/Qwen2.5-0.5B-Instruct.json` },
    'no-llama': { type: 'boolean', default: false },
    'llama-threads': { type: 'string' },
    'llama-reps': { type: 'string', default: '1' },
    prebuilt: { type: 'boolean', default: false },
    prefills: { type: 'string', default: '128,512,2048' },
    'decode-context': { type: 'string', default: '128' },
    'decode-steps': { type: 'string', default: '32' },
    batches: { type: 'string', default: '8:16,32:8' },
    'attention-context': { type: 'string', default: '4096' },
  },
});
const int = (text: string, name: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
};
const ROUNDS = int(flags.rounds, 'rounds');
/** The shape every format's file has (the rooflines and the attention rows use it). */
const CONFIG = configFromHf(JSON.parse(fs.readFileSync(flags.config, 'utf8')), flags.config);
const FORMATS = flags.formats.split(',').map(checkFormat);
const THREADS = addon.cpuInfo().threads;
const LLAMA_THREADS = int(flags['llama-threads'] ?? String(THREADS), 'llama-threads');
const LLAMA_REPS = int(flags['llama-reps'], 'llama-reps');
const DECODE_CONTEXT = int(flags['decode-context'], 'decode-context');
const DECODE_STEPS = int(flags['decode-steps'], 'decode-steps');
const PREFILLS = flags.prefills.split(',').map((x) => int(x, 'prefills'));
const BATCHES = flags.batches.split(',').map((x) => x.split(':').map((y) => int(y, 'batches')) as [number, number]);
const ATTENTION_CONTEXT = int(flags['attention-context'], 'attention-context');
const ATTENTION_QUERIES = [1, 16, 512].filter((q) => q <= ATTENTION_CONTEXT);
const MAX_SEQS = Math.max(1, ...BATCHES.map(([b]) => b));
const SEQ_CONTEXT = DECODE_CONTEXT + Math.max(DECODE_STEPS, ...BATCHES.map(([, s]) => s)) + 16;
const LONG_CONTEXT = Math.max(...PREFILLS, SEQ_CONTEXT) + 64;

const log = (line: string) => process.stderr.write(`${line}\n`);
const loadText = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const firstLine = (err: unknown) => (err as Error).message.split('\n')[0]!;

// ---- rooflines ----
function probe(): Probe {
  return {
    bw: addon.probeReadBandwidth(512 << 20, 3),
    bf16: addon.probeFlops('bf16', 4_000_000),
    int8: addon.probeFlops('int8', 4_000_000),
    f32: addon.probeFlops('f32', 4_000_000),
  };
}

function probeInstructions(): ProbeInstructions {
  return { bw: addon.probeInstruction('bw'), bf16: addon.probeInstruction('bf16'), int8: addon.probeInstruction('int8'), f32: addon.probeInstruction('f32') };
}

// ---- measurement ----
function record(s: Samples, key: string, v: number) {
  if (!s.has(key)) s.set(key, []);
  s.get(key)!.push(v);
  log(`    ${key}: ${v.toFixed(1)} (load ${loadText()})`);
}

async function measure(engine: EngineUnderTest, s: Samples): Promise<void> {
  const p = engine.name;
  // The memory bandwidth left to us moves with the neighbours' load: probe it next to each
  // decode measurement, and judge decode against the probes beside it.
  const before = addon.probeReadBandwidth(512 << 20, 3);
  record(s, `${p} decode`, await engine.batchedDecode(1, DECODE_CONTEXT, DECODE_STEPS));
  record(s, `${p} decode bw`, (before + addon.probeReadBandwidth(512 << 20, 3)) / 2);
  for (const n of PREFILLS) record(s, `${p} prefill ${n}`, n / (await engine.prefill(n)));
  for (const [b, steps] of BATCHES) record(s, `${p} batch ${b}`, await engine.batchedDecode(b, DECODE_CONTEXT, steps));
}

/** Pensieve's RSS with the model loaded, in a fresh process; or why it does not load. */
function measureRss(path: string): RssReport | { error: string } {
  const blocks = kvBlocksFor(MAX_SEQS, SEQ_CONTEXT, LONG_CONTEXT);
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', `${ROOT}bench/kernels-rss.ts`, path, String(blocks)], {
      cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
    if (!out.trim()) return { error: firstLine(err) };
  }
  const r = JSON.parse(out.trim().split('\n').pop()!) as RssReport | { error: string };
  // ModelLoadError's message starts with the path, which the report already names.
  return 'error' in r ? { error: r.error.replace(`${path}: `, '') } : r;
}

async function benchFormat(format: string, build: LlamaCppBuild | null, llamaWhy: string, probes: Probe[], rounds: RoundLoad[]): Promise<FormatRun> {
  let model: BenchModel;
  try {
    model = benchModel(format, flags.config, build, log);
  } catch (err) {
    log(`  ${format}: no model file: ${firstLine(err)}`);
    return { format, samples: new Map(), modelMissing: firstLine(err) };
  }
  const run: FormatRun = { format, model, samples: new Map(), weightBytes: tensorBytes(model.path) };
  const rss = measureRss(model.path);
  if ('error' in rss) {
    run.oursMissing = rss.error;
    log(`  ${format}: pensieve does not load ${model.path}: ${rss.error}`);
  } else run.rss = rss;

  const engines: EngineUnderTest[] = [];
  if (!run.oursMissing) {
    const ours = await loadOurs(model.path, 'auto', MAX_SEQS, SEQ_CONTEXT, LONG_CONTEXT);
    run.kvDType = ours.kvDType;
    engines.push(ours);
  }
  let native: (EngineUnderTest & { info(): LlamaNativeInfo | null }) | null = null;
  if (build) engines.push((native = loadLlamaCppNative(build, model.path, LLAMA_THREADS, LLAMA_REPS)));
  else run.llamaMissing = llamaWhy;
  if (flags.prebuilt) {
    try {
      const prebuilt = await loadLlamaCpp(model.path, LLAMA_THREADS, LONG_CONTEXT, CONFIG.vocabSize);
      engines.push({ ...prebuilt, name: 'prebuilt' });
    } catch (err) {
      run.prebuiltMissing = firstLine(err);
    }
  }

  for (let r = 0; r < ROUNDS; r++) {
    probes.push(probe());
    const loadStart = os.loadavg()[0]!;
    // Rotate who goes first, so no engine always meets a warmer (or busier) machine.
    const order = engines.map((_, i) => engines[(i + r) % engines.length]!);
    for (const e of order) {
      try {
        await measure(e, run.samples);
      } catch (err) {
        // A llama.cpp tool that fails (e.g. a type it cannot run) leaves its column empty, not the run.
        log(`  ${format}: ${e.name} failed: ${firstLine(err)}`);
        if (e.name === 'llama.cpp') run.llamaMissing = firstLine(err);
        else if (e.name === 'prebuilt') run.prebuiltMissing = firstLine(err);
        else throw err;
        engines.splice(engines.indexOf(e), 1);
        await e.close().catch(() => undefined);
      }
    }
    rounds.push({ format, round: r + 1, loadStart, loadEnd: os.loadavg()[0]!, bw: probes[probes.length - 1]!.bw });
    log(`  ${format} round ${r + 1}/${ROUNDS} done (load ${loadText()})`);
  }
  run.llamaInfo = native?.info() ?? undefined;
  // Where Pensieve's reader cannot parse the file yet, llama.cpp's count of its tensor bytes is exact.
  if (run.weightBytes?.source === 'file size' && run.llamaInfo) run.weightBytes = { bytes: run.llamaInfo.modelBytes, source: 'llama.cpp' };
  for (const e of engines) await e.close();
  return run;
}

async function main() {
  log(`bench:kernels: ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${THREADS} kernel threads, ISA ${addon.cpuInfo().isa}, load ${loadText()}`);
  let build: LlamaCppBuild | null = null;
  let llamaWhy = 'not run (--no-llama)';
  if (!flags['no-llama']) {
    try {
      build = await ensureLlamaCppBuild(log);
      log(`llama.cpp: ${build.tag} (${build.commit.slice(0, 10)}) built for this CPU with ${build.cmakeFlags.join(' ')}`);
    } catch (err) {
      llamaWhy = `cannot build: ${firstLine(err)}`;
      log(`llama.cpp ${llamaWhy}`);
    }
  }
  let prebuiltInfo: string | undefined;
  if (flags.prebuilt) {
    installLlamaCpp(log);
    prebuiltInfo = await llamaSystemInfo();
  }
  const loadBefore = loadText();
  const probes: Probe[] = [];
  const rounds: RoundLoad[] = [];
  const formats: FormatRun[] = [];
  for (const format of FORMATS) formats.push(await benchFormat(format, build, llamaWhy, probes, rounds));
  const attention = (['f32', 'bf16'] as const).flatMap((dt) => benchAttention(CONFIG, ATTENTION_CONTEXT, ATTENTION_QUERIES, 1, dt));
  probes.push(probe());
  const run: BenchRun = {
    machine: `${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, ${THREADS} threads`, isa: addon.cpuInfo().isa,
    loadBefore, loadAfter: loadText(), rounds: ROUNDS, config: CONFIG, build, llamaWhy, llamaThreads: LLAMA_THREADS, llamaReps: LLAMA_REPS,
    prebuiltInfo, probes, probeInstructions: probeInstructions(), roundLoads: rounds, formats, attention, attentionContext: ATTENTION_CONTEXT,
    decodeContext: DECODE_CONTEXT, decodeSteps: DECODE_STEPS, prefills: PREFILLS, batches: BATCHES,
  };
  console.log(report(run));
}

await main();
