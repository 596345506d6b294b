// The benchmark's pure parts: seeded distributions and arrivals, workloads built from the real
// data, percentiles and the equal-latency comparison, Prometheus parsing, and the PNG encoder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import type { TurnRecord } from '../../bench/multiturn/client.js';
import { hhRlhfDialogues, mtBenchDialogues, shareGptPrompts } from '../../bench/multiturn/datasets.js';
import { poissonArrivals, type LoadResult } from '../../bench/multiturn/load-generator.js';
import { Canvas } from '../../bench/multiturn/png.js';
import { compare, curveOf, readReports, sustainedThroughput } from '../../bench/multiturn/report.js';
import { Rng, parseDistribution } from '../../bench/multiturn/rng.js';
import { jsonSafe, type BenchReport, type RunResult } from '../../bench/multiturn/run.js';
import { llamaServerArgs } from '../../bench/multiturn/llama-server.js';
import { parseServerArgs, parseSystem, systemSpec } from '../../bench/multiturn/systems.js';
import { counterDelta, parseCounters } from '../../bench/multiturn/server-metrics.js';
import { distribution, percentile, summarize, type LoadSummary } from '../../bench/multiturn/summary.js';
import { makeWorkload } from '../../bench/multiturn/workload.js';
import { agentPreambleTokens } from '../../bench/multiturn/agent.js';

test('distributions: seeded, clamped, and parsed from text', () => {
  const d = parseDistribution('lognormal:100:0.8:10:300');
  const a = Array.from({ length: 500 }, ((rng) => () => d.sample(rng))(new Rng(7)));
  const b = Array.from({ length: 500 }, ((rng) => () => d.sample(rng))(new Rng(7)));
  assert.deepEqual(a, b);
  assert.ok(a.every((v) => Number.isInteger(v) && v >= 10 && v <= 300));
  const sorted = [...a].sort((x, y) => x - y);
  assert.ok(Math.abs(percentile(sorted, 50) - 100) < 20, `median ${percentile(sorted, 50)}`);
  const u = parseDistribution('uniform:2:4');
  const seen = new Set(Array.from({ length: 200 }, ((rng) => () => u.sample(rng))(new Rng(1))));
  assert.deepEqual([...seen].sort(), [2, 3, 4]);
  assert.equal(parseDistribution('const:5').sample(new Rng(0)), 5);
  assert.throws(() => parseDistribution('gauss:1'), RangeError);
  assert.throws(() => parseDistribution('uniform:1'), RangeError);
});

test('Poisson arrivals: the mean gap is 1/rate, and the same seed gives the same times', () => {
  const times = poissonArrivals(2, 3, { count: 2000 });
  assert.equal(times.length, 2000);
  assert.equal(times[0], 0);
  const meanGap = times.at(-1)! / (times.length - 1);
  assert.ok(Math.abs(meanGap - 500) < 40, `mean gap ${meanGap} ms`);
  assert.deepEqual(poissonArrivals(2, 3, { count: 50 }), times.slice(0, 50));
  const windowed = poissonArrivals(1, 3, { durationS: 30 });
  assert.ok(windowed.every((t) => t < 30_000) && windowed.length > 10);
});

test('the real data: HH-RLHF dialogues alternate from a human turn, MT-Bench has 80 two-turn questions', () => {
  const hh = hhRlhfDialogues();
  assert.equal(hh.length, 2312);
  assert.ok(hh.every((d) => d.messages[0]!.role === 'user' && d.messages.at(-1)!.role === 'assistant'));
  const mt = mtBenchDialogues();
  assert.equal(mt.length, 80);
  assert.ok(mt.every((d) => d.messages.filter((m) => m.role === 'user').length === 2));
  assert.equal(mt.filter((d) => d.messages.length === 4).length, 30);
  assert.equal(shareGptPrompts().length, 500);
});

test('workloads: conversation i is the same on every call; lengths follow the data or the fixed option', () => {
  for (const kind of ['hh-rlhf', 'mt-bench', 'synthetic', 'agent'] as const) {
    const w = makeWorkload({ kind, seed: 1 });
    assert.deepEqual(w.conversation(5), makeWorkload({ kind, seed: 1 }).conversation(5));
    assert.notDeepEqual(w.conversation(5), w.conversation(6));
    for (let i = 0; i < 20; i++) {
      const c = w.conversation(i);
      assert.ok(c.turns.length >= 1 && c.turns.every((t) => t.user.length > 0 && t.outputTokens >= 1 && t.outputTokens <= 384));
    }
  }
  const fixed = makeWorkload({ kind: 'synthetic', seed: 2, outputLen: 32, syntheticTurns: 'const:3', syntheticInput: 'const:50' });
  const c = fixed.conversation(0);
  assert.equal(c.turns.length, 3);
  assert.ok(c.turns.every((t) => t.outputTokens === 32 && t.user.length <= 200 && t.user.length > 100));
  assert.equal(makeWorkload({ kind: 'mt-bench', seed: 0 }).conversation(0).turns.length, 2);
});

test('agent workload: a 2-4K-token preamble with tools, a task, 10-30 tool results, a last answer in text', () => {
  const w = makeWorkload({ kind: 'agent', seed: 3 });
  for (let i = 0; i < 20; i++) {
    const c = w.conversation(i);
    assert.ok(c.agent, 'an agent conversation carries its setup');
    const preamble = agentPreambleTokens(c.agent);
    assert.ok(preamble >= 2000 && preamble <= 3700, `${preamble} preamble tokens`);
    assert.equal(c.agent.tools.length, 5);
    assert.ok(c.turns.length >= 11 && c.turns.length <= 31, `${c.turns.length} turns`);
    assert.equal(c.turns[0]!.kind, 'user');
    assert.ok(c.turns.slice(1).every((t) => t.kind === 'tool_result' && t.user.length <= 60 * 4));
    assert.deepEqual(c.turns.map((t) => t.final === true), c.turns.map((_, k) => k === c.turns.length - 1));
  }
});

function record(sentAt: number, first: number, end: number, outputTokens: number, status: TurnRecord['status'] = 'ok'): TurnRecord {
  return {
    conversation: 'c', turn: 0, sentAt, firstTokenAt: first, endAt: end, chunkTimes: [first, end], status, maxTokens: outputTokens,
    promptTokens: 100, outputTokens, cachedTokens: 40, computedPromptTokens: 60, recomputedTokens: 5,
    cachedByTier: { device: 30, host: 10, disk: 0 },
  };
}

test('summary: latencies, throughput, goodput; an unfinished turn is an infinite latency', () => {
  const load: LoadResult = {
    records: [record(0, 100, 1000, 10), record(0, 300, 3000, 10), record(1000, 1100, 2000, 10), record(0, 0, 4000, 0, 'aborted')],
    conversationsStarted: 2, conversationsCompleted: 1, conversationsCutShort: 0, elapsedMs: 4000, arrivalWindowMs: 1000, startedAt: '',
  };
  const s = summarize(load, { ttft: 0.2 });
  assert.deepEqual(s.requests, { completed: 3, failed: 0, aborted: 1 });
  assert.equal(s.requestThroughput, 3 / 4);
  assert.equal(s.outputTokenThroughput, 30 / 4);
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
  near(s.ttftS.p50, 0.2); // sorted [0.1, 0.1, 0.3, inf]: halfway between 0.1 and 0.3
  near(s.normLatencyS.p50, 0.2);
  assert.equal(s.normLatencyS.p90, Infinity);
  assert.equal(s.e2eS.mean, Infinity);
  assert.equal(s.normLatencyS.p99, Infinity);
  assert.equal(s.goodput.requestsPerS, 2 / 4);
  assert.equal(s.hitRate, 0.4);
  assert.deepEqual(s.tokens, { prompt: 300, output: 30, cached: 120, computedPrompt: 180, recomputed: 15, cachedByTier: { device: 90, host: 30, disk: 0, shared: 0 } });
  assert.deepEqual(distribution([]).p50, NaN);
});

function point(system: string, rate: number, throughput: number, p90: number): RunResult {
  const summary = { requestThroughput: throughput, normLatencyS: { mean: p90, p50: p90, p90, p99: p90 } } as unknown as LoadSummary;
  return { system, rate, repeat: 0, kvTokens: null, summary, cache: null, counters: null, loadAverage: [0, 0] };
}

test('comparison at equal latency: interpolates where a curve crosses the target', () => {
  const stateless = [point('stateless', 0.1, 0.3, 0.1), point('stateless', 0.2, 0.5, 0.3), point('stateless', 0.4, 0.6, Infinity)];
  const pensieve = [point('pensieve', 0.1, 0.3, 0.05), point('pensieve', 0.2, 0.6, 0.06), point('pensieve', 0.4, 1.2, 0.1)];
  assert.deepEqual(sustainedThroughput(curveOf(stateless, 'stateless'), 0.2), { throughput: 0.4, status: 'crossed' });
  assert.deepEqual(sustainedThroughput(curveOf(pensieve, 'pensieve'), 0.2), { throughput: 1.2, status: 'not-reached' });
  assert.deepEqual(sustainedThroughput(curveOf(stateless, 'stateless'), 0.05), { throughput: 0, status: 'never-met' });
  // Repeated runs at one rate: the curve takes their medians.
  const repeated = [point('prefix', 0.1, 0.2, 0.1), point('prefix', 0.1, 0.4, 0.3), point('prefix', 0.1, 0.3, 0.2)];
  assert.deepEqual(curveOf(repeated, 'prefix'), [{ rate: 0.1, runs: 3, throughput: 0.3, p90: 0.2 }]);
  const c = compare([...stateless, ...pensieve], 0.2)!;
  assert.equal(c.ratios[0]!.system, 'stateless');
  assert.ok(Math.abs(c.ratios[0]!.ratio - 3) < 1e-9);
  assert.equal(compare([...stateless, ...pensieve], null)!.latencyTarget, 0.125);
});

test('systems: a Pensieve mode on either client path; llama.cpp servers only on resends', () => {
  assert.deepEqual(parseSystem('pensieve'), { name: 'pensieve', api: 'responses' });
  assert.deepEqual(parseSystem('prefix/chat'), { name: 'prefix', api: 'chat' });
  assert.deepEqual(parseSystem('llama-server'), { name: 'llama-server', api: 'chat' });
  assert.deepEqual(systemSpec('pensieve/responses', ['-x']), { name: 'pensieve', label: 'pensieve', api: 'responses', extraArgs: ['-x'] });
  assert.equal(systemSpec('stateless/chat').label, 'stateless/chat');
  assert.equal(systemSpec('llama-server').label, 'llama-server');
  for (const bad of ['vllm', 'pensieve/grpc', 'llama-server/responses', 'pensieve/chat/x']) assert.throws(() => parseSystem(bad), RangeError, bad);
  assert.deepEqual([...parseServerArgs(['llama-server=-fa on', 'all=--x 1']).entries()], [['llama-server', ['-fa', 'on']], ['all', ['--x', '1']]]);
});

test("llama-server's flags: the KV budget over all slots, its prompt cache in host memory, extra flags last", () => {
  const args = llamaServerArgs({ model: '/m.gguf', slots: 4, kvTokens: 5824, threads: 2, cacheRamMiB: 2048, extraArgs: ['--parallel', '2'] }, 8123);
  const value = (flag: string) => args[args.lastIndexOf(flag) + 1];
  assert.equal(value('--ctx-size'), '5824');
  assert.equal(value('--cache-ram'), '2048');
  assert.equal(value('--threads'), '2');
  assert.equal(value('--port'), '8123');
  assert.ok(args.includes('--kv-unified'));
  assert.equal(value('--parallel'), '2', 'a flag given by the user overrides the default');
});

test('the comparison has a row per Pensieve client path against every other system', () => {
  const curve = (system: string, throughput: number) => [point(system, 0.1, throughput / 2, 0.05), point(system, 0.2, throughput, 0.1)];
  const c = compare([...curve('pensieve', 1), ...curve('pensieve/chat', 0.8), ...curve('llama-server', 0.4)], 0.1)!;
  const rows = c.ratios.map((r) => `${r.base}/${r.system}=${r.ratio.toFixed(2)}`);
  assert.deepEqual(rows, ['pensieve/pensieve/chat=1.25', 'pensieve/llama-server=2.50', 'pensieve/chat/pensieve=0.80', 'pensieve/chat/llama-server=2.00']);
});

test('results of several invocations merge: a second run of a system at a rate is a repeat', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-bench-merge-'));
  try {
    const report = (command: string, results: RunResult[]) => ({ command, results }) as unknown as BenchReport;
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    fs.writeFileSync(a, JSON.stringify(report('first', [point('prefix', 0.1, 0.2, 0.1), point('prefix', 0.3, 0.5, Infinity)]), jsonSafe));
    fs.writeFileSync(b, JSON.stringify(report('second', [point('prefix', 0.3, 0.6, 0.4)]), jsonSafe));
    const merged = readReports([a, b]);
    assert.deepEqual(merged.mergedFrom, ['first', 'second']);
    assert.deepEqual(merged.results.map((r) => [r.rate, r.repeat]), [[0.1, 0], [0.3, 0], [0.3, 1]]);
    assert.equal(merged.results[1]!.summary.normLatencyS.p90, Infinity);
    assert.deepEqual(curveOf(merged.results, 'prefix')[1], { rate: 0.3, runs: 2, throughput: 0.55, p90: Infinity });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('Prometheus counters: parsed with labels, and their growth over a run', () => {
  const before = parseCounters('# HELP x\n# TYPE pensieve_prompt_tokens_total counter\npensieve_prompt_tokens_total 10\npensieve_kv_cache_usage_perc 0.5\npensieve_request_success_total{finished_reason="stop"} 2\n');
  assert.deepEqual(before, { pensieve_prompt_tokens_total: 10, 'pensieve_request_success_total{finished_reason="stop"}': 2 });
  const after = { pensieve_prompt_tokens_total: 25, 'pensieve_request_success_total{finished_reason="stop"}': 3, pensieve_new_total: 4 };
  assert.deepEqual(counterDelta(before, after), { pensieve_prompt_tokens_total: 15, 'pensieve_request_success_total{finished_reason="stop"}': 1, pensieve_new_total: 4 });
  assert.equal(counterDelta(null, after), null);
});

test('PNG encoder: signature, header and pixel rows', () => {
  const c = new Canvas(7, 3, [0, 0, 0]);
  c.set(2, 1, [255, 10, 20]);
  const png = c.encodePng();
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.toString('ascii', 12, 16), 'IHDR');
  assert.equal(png.readUInt32BE(16), 7);
  assert.equal(png.readUInt32BE(20), 3);
  const idatAt = png.indexOf('IDAT');
  const raw = inflateSync(png.subarray(idatAt + 4, idatAt + 4 + png.readUInt32BE(idatAt - 4)));
  assert.equal(raw.length, 3 * (1 + 7 * 3));
  assert.deepEqual([...raw.subarray(22 + 1 + 6, 22 + 1 + 9)], [255, 10, 20]);
});
