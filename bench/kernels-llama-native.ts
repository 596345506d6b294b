// llama.cpp's side of bench/kernels.ts through its own benchmark tools, built for this CPU
// (bench/llama-cpp/build.ts): batch-1 decode and prefill by `llama-bench`, batched decode by
// `llama-batched-bench`. Each call is one run of the tool (it loads the model by mmap, warms up,
// measures), so bench/kernels.ts can interleave it with ours round by round.
import { spawnSync } from 'node:child_process';
import type { LlamaCppBuild } from './llama-cpp/build.js';
import type { EngineUnderTest } from './kernels-types.js';

/** The llama-bench -o jsonl fields read here (one line per test). */
interface LlamaBenchRow {
  build_commit: string;
  cpu_info: string;
  backends: string;
  model_type: string;
  model_size: number;
  model_n_params: number;
  n_threads: number;
  n_batch: number;
  n_ubatch: number;
  type_k: string;
  type_v: string;
  flash_attn: unknown;
  n_prompt: number;
  n_gen: number;
  n_depth: number;
  avg_ts: number;
  stddev_ts: number;
}

/** The llama-batched-bench --output-format jsonl fields read here. */
interface BatchedBenchRow { pp: number; tg: number; pl: number; n_threads: number; flash_attn: number; speed_tg: number; t_tg: number }

export interface LlamaNativeInfo {
  /** From the first llama-bench run: what llama.cpp saw (its own words). */
  buildCommit: string;
  modelType: string;
  /** Bytes of the model's tensors and their parameter count, as llama.cpp counts them. */
  modelBytes: number;
  modelParams: number;
  threads: number;
  kvType: string;
  flashAttn: string;
  cpuInfo: string;
}

const TIMEOUT_MS = 15 * 60_000;

/** Runs a tool; returns its stdout and stderr together (llama.cpp's log macros pick either). */
function runTool(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: TIMEOUT_MS, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const tail = `${r.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`);
    throw new Error(`${bin.split('/').pop()} ${args.join(' ')} failed: ${why}${tail ? ` (${tail})` : ''}`);
  }
  return `${r.stdout}\n${r.stderr}`;
}

/** The JSON objects among a tool's output lines (both tools print JSON Lines with these options). */
function jsonLines<T>(text: string, key: string): T[] {
  return text.split('\n').filter((l) => l.startsWith('{') && l.includes(`"${key}"`)).map((l) => JSON.parse(l) as T);
}

export function loadLlamaCppNative(
  build: LlamaCppBuild, path: string, threads: number, repetitions: number,
): EngineUnderTest & { info(): LlamaNativeInfo | null } {
  let info: LlamaNativeInfo | null = null;
  const llamaBench = (prompt: number, gen: number, depth: number): number => {
    const args = ['-m', path, '-t', String(threads), '-p', String(prompt), '-n', String(gen), '-d', String(depth),
      '-r', String(repetitions), '-o', 'jsonl'];
    const rows = jsonLines<LlamaBenchRow>(runTool(build.bin('llama-bench'), args), 'avg_ts');
    const row = rows[0];
    if (rows.length !== 1 || !row || !(row.avg_ts > 0)) throw new Error(`llama-bench ${args.join(' ')}: expected one result, got ${rows.length}`);
    info ??= {
      buildCommit: row.build_commit, modelType: row.model_type, modelBytes: row.model_size, modelParams: row.model_n_params,
      threads: row.n_threads, kvType: `${row.type_k}/${row.type_v}`, cpuInfo: row.cpu_info,
      flashAttn: ({ '-1': 'auto', '0': 'off', '1': 'on', false: 'off', true: 'on' } as Record<string, string>)[String(row.flash_attn)] ?? String(row.flash_attn),
    };
    return row.avg_ts;
  };

  return {
    name: 'llama.cpp',
    info: () => info,
    async prefill(n) {
      return n / llamaBench(n, 0, 0);
    },
    async batchedDecode(sequences, context, steps) {
      // Batch 1: llama-bench's text generation at depth `context` (the prompt is prefilled untimed).
      if (sequences === 1) return llamaBench(0, steps, context);
      // Each sequence its own `context`-token prompt (not shared), then `steps` steps of all of them;
      // the context is split evenly between the sequences (a multiple of 256 each, as llama.cpp pads).
      // llama-batched-bench prints its results through llama.cpp's asynchronous logger, which can
      // lose the last line at exit (its common_log_main leaks the logger unflushed): a trailing
      // 1-sequence run after ours gives the logger time to write our line; a lost line is rerun once.
      const perSeq = Math.ceil((context + steps + 16) / 256) * 256;
      const args = ['-m', path, '-t', String(threads), '-tb', String(threads), '-c', String(sequences * perSeq),
        '-npp', String(context), '-ntg', String(steps), '-npl', `${sequences},1`, '--output-format', 'jsonl'];
      let row: BatchedBenchRow | undefined;
      for (let attempt = 0; attempt < 2 && !row; attempt++) {
        row = jsonLines<BatchedBenchRow>(runTool(build.bin('llama-batched-bench'), args), 'speed_tg').find((r) => r.pl === sequences);
      }
      if (!row || !(row.speed_tg > 0)) throw new Error(`llama-batched-bench ${args.join(' ')}: no result for ${sequences} sequences`);
      return row.speed_tg;
    },
    async close() {},
  };
}
