// What a benchmark run leaves behind: results.json (every number), results.md (the tables and
// the comparison at equal latency) and two PNG plots. The comparison reads each system's sweep
// as a throughput-vs-latency curve and finds the highest throughput it sustains with p90
// normalized latency at or under one common target (interpolating between sweep points).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { lineChart, stackedBars, type Curve } from './plots.js';
import { jsonSafe, type BenchReport, type RunResult } from './run.js';

export interface SustainedThroughput {
  system: string;
  /** Requests per second at the target latency (0 when even the lowest rate missed it). */
  throughput: number;
  /** 'crossed': the curve passes the target inside the sweep; 'not-reached': every rate met it
   *  (the throughput is a lower bound); 'never-met': the lowest rate already missed it. */
  status: 'crossed' | 'not-reached' | 'never-met';
}

export interface Comparison {
  latencyTarget: number;
  targetChosen: 'given' | 'auto';
  systems: SustainedThroughput[];
  /**
   * Pensieve's sustained throughput over each other system's, for each client path it ran
   * (base `pensieve`: Responses chains; `pensieve/chat`: chat completions resending history).
   */
  ratios: { base: string; system: string; ratio: number; note: string }[];
}

/** One point of a system's throughput-vs-latency curve: the medians of its runs at one rate. */
export interface CurvePoint {
  rate: number;
  runs: number;
  /** Requests per second. */
  throughput: number;
  /** p90 normalized latency, s/token. */
  p90: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid]!;
  const [a, b] = [sorted[mid - 1]!, sorted[mid]!];
  return a === b ? a : (a + b) / 2;
}

export function curveOf(results: readonly RunResult[], system: string): CurvePoint[] {
  const mine = results.filter((r) => r.system === system);
  return [...new Set(mine.map((r) => r.rate))].sort((a, b) => a - b).map((rate) => {
    const runs = mine.filter((r) => r.rate === rate);
    return {
      rate,
      runs: runs.length,
      throughput: median(runs.map((r) => r.summary.requestThroughput)),
      p90: median(runs.map((r) => r.summary.normLatencyS.p90)),
    };
  });
}

export function sustainedThroughput(points: readonly CurvePoint[], target: number): Omit<SustainedThroughput, 'system'> {
  let best = 0;
  let status: SustainedThroughput['status'] = 'never-met';
  for (let i = 0; i < points.length; i++) {
    const { throughput: x, p90: y } = points[i]!;
    if (y <= target) {
      best = Math.max(best, x);
      status = 'not-reached';
      continue;
    }
    if (i > 0 && status !== 'never-met') {
      const { throughput: x0, p90: y0 } = points[i - 1]!;
      const xAt = Number.isFinite(y) ? x0 + ((x - x0) * (target - y0)) / (y - y0) : x0;
      best = Math.max(best, xAt);
      status = 'crossed';
    }
    break;
  }
  return { throughput: best, status };
}

/**
 * The comparison at one latency. Auto target: 1.25 × the highest of the systems' p90 normalized
 * latencies at their lowest rate, i.e. a latency every system attains when lightly loaded.
 */
export function compare(results: readonly RunResult[], given: number | null): Comparison | null {
  const systems = [...new Set(results.map((r) => r.system))];
  if (systems.length === 0) return null;
  const lowest = systems.map((s) => curveOf(results, s)[0]!.p90).filter(Number.isFinite);
  const target = given ?? (lowest.length > 0 ? Number((1.25 * Math.max(...lowest)).toPrecision(3)) : NaN);
  const sustained = systems.map((s) => ({ system: s, ...sustainedThroughput(curveOf(results, s), target) }));
  const bases = sustained.filter((s) => s.system === 'pensieve' || s.system === 'pensieve/chat');
  const ratios = bases.flatMap((pensieve) => sustained.filter((s) => s !== pensieve).map((s) => {
    const ratio = s.throughput > 0 ? pensieve.throughput / s.throughput : Infinity;
    const notes: string[] = [];
    if (pensieve.status === 'not-reached') notes.push(`${pensieve.system} met the target at every rate: a lower bound`);
    if (s.status === 'not-reached') notes.push(`${s.system} met the target at every rate: its throughput is a lower bound`);
    if (s.status === 'never-met') notes.push(`${s.system} missed the target even at the lowest rate`);
    return { base: pensieve.system, system: s.system, ratio, note: notes.join('; ') };
  }));
  return { latencyTarget: target, targetChosen: given === null ? 'auto' : 'given', systems: sustained, ratios };
}

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : v > 0 ? '∞' : '–');
const ms = (s: number) => f(s * 1000, 0);

export function markdown(report: BenchReport, comparison: Comparison | null): string {
  const c = report.config;
  const lines: string[] = [];
  if (report.mergedFrom && report.mergedFrom.length > 1) {
    lines.push(`Results of ${report.mergedFrom.length} invocations, merged (runs of one system at one rate are repeats; the curves take their medians):`, '');
    for (const c of report.mergedFrom) lines.push(`- \`${c}\``);
    lines.push('');
  } else {
    lines.push(`Command: \`${report.command}\``, '');
  }
  lines.push(`Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGiB} GiB, node ${report.machine.node}; load average at start ${report.machine.loadAverageAtStart.join(' / ')}.`);
  lines.push(`Model: \`${path.basename(report.model)}\`. Workload: ${report.workload}.`);
  lines.push(
    `Load: Poisson arrivals at each rate for ${c.load.duration !== undefined ? `${c.load.duration} s` : `${c.load.numConversations} conversations`}, ` +
    `think time ${c.load.thinkTime} s mean × ${c.load.timeScale}, at most ${c.load.maxActive} open conversations, conversations capped at ${c.load.maxContextTokens} tokens, ` +
    `temperature ${c.sampling.temperature}, seed ${c.load.seed}. Device KV ${c.kvCacheMemory} for Pensieve` +
    (c.systems.includes('llama.cpp') ? `; llama.cpp ${c.llama.sequences} sequences × ${c.llama.contextSize} tokens, ${c.llama.threads} threads` : '') +
    (c.systems.includes('llama-server') ? `; llama-server ${c.llama.sequences} slots over ${c.kvTokens ?? '?'} KV tokens, ${c.hostMemoryMiB ?? 0} MiB --cache-ram, ${c.llama.threads} threads` : '') + '.',
  );
  for (const server of new Set(report.results.flatMap((r) => (r.server ? [r.server] : [])))) lines.push('', `Started: ${server}`);
  lines.push('');
  lines.push('| system | rate (conv/s) | turns | req/s | out tok/s | TTFT p50 / p90 / p99 (s) | TPOT p50 / p90 (ms) | ITL p90 (ms) | E2E p50 / p90 (s) | norm. latency mean / p50 / p90 / p99 (s/token) | goodput (req/s) | unfinished | load avg |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const order = [...new Set(report.results.map((r) => r.system))];
  const rows = [...report.results].sort((a, b) => order.indexOf(a.system) - order.indexOf(b.system) || a.rate - b.rate || a.repeat - b.repeat);
  const repeated = report.results.some((r) => r.repeat > 0);
  const rateCell = (r: RunResult) => `${r.rate}${repeated ? ` #${r.repeat + 1}` : ''}`;
  for (const r of rows) {
    const s = r.summary;
    lines.push(
      `| ${r.system} | ${rateCell(r)} | ${s.requests.completed} | ${f(s.requestThroughput, 3)} | ${f(s.outputTokenThroughput, 1)} | ` +
      `${f(s.ttftS.p50)} / ${f(s.ttftS.p90)} / ${f(s.ttftS.p99)} | ${ms(s.tpotS.p50)} / ${ms(s.tpotS.p90)} | ${ms(s.itlS.p90)} | ` +
      `${f(s.e2eS.p50)} / ${f(s.e2eS.p90)} | ${f(s.normLatencyS.mean, 3)} / ${f(s.normLatencyS.p50, 3)} / ${f(s.normLatencyS.p90, 3)} / ${f(s.normLatencyS.p99, 3)} | ` +
      `${f(s.goodput.requestsPerS, 3)} | ${s.requests.failed + s.requests.aborted} | ${r.loadAverage.join('→')} |`,
    );
  }
  lines.push('');
  lines.push('Where prompt tokens came from (client-side usage; server counters from `/metrics` in the last columns):', '');
  lines.push('| system | rate | prompt tokens | reused (hit rate) | reused from device / host / disk / shared | computed new | recomputed | output tokens | short replies | server: cached / recomputed / preemptions |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const t = r.summary.tokens;
    const b = breakdown(r);
    const server = r.cache ? `${r.cache.cachedTokens} / ${r.cache.recomputedTokens} / ${r.cache.preemptions}` : 'n/a';
    lines.push(`| ${r.system} | ${rateCell(r)} | ${t.prompt} | ${t.cached} (${f(100 * r.summary.hitRate, 1)}%) | ${b.device} / ${b.host} / ${b.disk} / ${b.shared} | ${b.computedNew} | ${b.recomputed} | ${t.output} | ${r.summary.shortOutputs} | ${server} |`);
  }
  const tiers = report.results.filter((r) => r.cache && Object.values(r.cache.tiers).some((v) => v !== 0));
  if (tiers.length > 0) {
    lines.push('', 'Tier counters over each run (non-zero only; bytes in MiB):', '');
    for (const r of tiers) {
      const shown = Object.entries(r.cache!.tiers).filter(([, v]) => v !== 0)
        .map(([k, v]) => `${k.replace(/^pensieve_/, '')} ${k.includes('bytes') ? (v / 2 ** 20).toFixed(0) : v}`);
      lines.push(`- ${r.system} @ ${rateCell(r)}: ${shown.join(', ')}`);
    }
  }
  if (comparison) {
    lines.push('', `Sustained throughput at p90 normalized latency ≤ ${comparison.latencyTarget} s/token (${comparison.targetChosen === 'auto' ? 'auto: 1.25 × the highest lowest-rate p90 of all systems' : 'given'}):`, '');
    lines.push('| system | req/s at target | how | curve: rate → req/s, p90 s/token (median of runs) |', '|---|---|---|---|');
    for (const s of comparison.systems) {
      const how = s.status === 'crossed' ? 'interpolated where the curve crosses the target' : s.status === 'not-reached' ? 'met at every rate (lower bound)' : 'missed at the lowest rate';
      const curve = curveOf(report.results, s.system).map((p) => `${p.rate} → ${f(p.throughput, 3)}, ${f(p.p90, 3)}${p.runs > 1 ? ` (${p.runs} runs)` : ''}`).join('; ');
      lines.push(`| ${s.system} | ${f(s.throughput, 3)} | ${how} | ${curve} |`);
    }
    if (comparison.ratios.length > 0) {
      lines.push('', '| system | vs | throughput ratio | target | note |', '|---|---|---|---|---|');
      for (const r of comparison.ratios) {
        const rival = r.system.replace(/\/chat$/, '');
        const goal = rival === 'stateless' ? '≥ 3×' : rival === 'prefix' ? '≥ 1.5×' : '–';
        lines.push(`| ${r.base} | ${r.system} | ${f(r.ratio, 2)}× | ${goal} | ${r.note || '–'} |`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Prompt tokens split into reused (by tier), computed for the first time, and computed again:
 * whatever was computed beyond the tokens that were not reused (a preempted request computes
 * its prompt twice) counts as recomputed, as do the tokens the server reports as recomputed.
 */
export function breakdown(r: RunResult): { device: number; host: number; disk: number; shared: number; computedNew: number; recomputed: number } {
  const t = r.summary.tokens;
  const computedNew = t.prompt - t.cached;
  const recomputed = Math.max(t.recomputed ?? 0, (t.computedPrompt ?? computedNew) - computedNew);
  const tiers = t.cachedByTier ?? { device: t.cached, host: 0, disk: 0 };
  return { ...tiers, shared: tiers.shared ?? 0, computedNew: Math.max(0, computedNew - (t.recomputed ?? 0)), recomputed };
}

/**
 * results.json files written by writeReport (their "inf" strings are infinite latencies again),
 * merged into one report: later files' runs of a system at a rate already present count as
 * repeats. The first file's configuration describes the merged report.
 */
export function readReports(files: readonly string[]): BenchReport {
  const reports = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8'), (_key, value: unknown) => (value === 'inf' ? Infinity : value)) as BenchReport);
  const merged: BenchReport = { ...reports[0]!, results: [], mergedFrom: reports.flatMap((r) => r.mergedFrom ?? [r.command]) };
  for (const report of reports) {
    for (const r of report.results) {
      const earlier = merged.results.filter((m) => m.system === r.system && m.rate === r.rate).length;
      merged.results.push({ ...r, repeat: Math.max(r.repeat ?? 0, earlier) });
    }
  }
  return merged;
}

/** Writes results.json, results.md, throughput-latency.png and hit-rate.png into `dir`. */
export function writeReport(report: BenchReport, dir: string): { comparison: Comparison | null; files: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const comparison = compare(report.results, report.config.latencyTarget);
  const files: string[] = [];
  const write = (name: string, data: string | Buffer) => {
    fs.writeFileSync(path.join(dir, name), data);
    files.push(path.join(dir, name));
  };
  write('results.json', JSON.stringify({ ...report, comparison }, jsonSafe, 2) + '\n');
  write('results.md', markdown(report, comparison));
  const systems = [...new Set(report.results.map((r) => r.system))];
  const curves: Curve[] = systems.map((s) => ({
    label: s,
    points: curveOf(report.results, s).map((p) => ({ x: p.throughput, y: p.p90 })),
  }));
  write('throughput-latency.png', lineChart(curves, {
    title: 'Throughput vs p90 normalized latency',
    xLabel: 'throughput (requests/s)',
    yLabel: 'p90 normalized latency (s/token)',
    ...(comparison && Number.isFinite(comparison.latencyTarget) ? { yReference: { value: comparison.latencyTarget, label: `target ${comparison.latencyTarget}` } } : {}),
  }));
  // One bar per system and rate (a rate's repeats summed), in the order of the curves.
  const bars = systems.flatMap((s) => curveOf(report.results, s).map((p) => {
    const values = [0, 0, 0, 0, 0, 0];
    for (const r of report.results.filter((x) => x.system === s && x.rate === p.rate)) {
      const b = breakdown(r);
      [b.device, b.host, b.disk, b.shared, b.computedNew, b.recomputed].forEach((v, k) => (values[k] += v));
    }
    return { label: `${s} @${p.rate}`, values };
  }));
  write('hit-rate.png', stackedBars(bars, ['reused: device', 'host', 'disk', 'shared', 'computed new', 'recomputed'], { title: 'Where prompt tokens came from, per system and rate (conversations/s)' }));
  return { comparison, files };
}
