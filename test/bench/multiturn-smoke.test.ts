// A seconds-long run of `pensieve bench --compare` on stories260K in the three cache modes (and
// pensieve driven by chat-completions resends), so the harness cannot rot: every system answers
// every turn, the numbers are sane, and the cache counters tell the modes apart (stateless reuses
// nothing, pensieve and prefix do, on either client path).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, MODELS, REPO_ROOT } from '../helpers/paths.js';

const STORIES = path.join(MODELS, 'stories260K', 'stories260K.gguf');

interface Result {
  system: string;
  summary: {
    requests: { completed: number; failed: number; aborted: number };
    requestThroughput: number;
    outputTokenThroughput: number;
    tokens: { prompt: number; output: number; cached: number };
    hitRate: number;
    ttftS: { p50: number; p90: number };
    e2eS: { p50: number };
    normLatencyS: { p90: number };
  };
  cache: { cachedTokens: number; promptTokens: number } | null;
}

test('pensieve bench --compare runs stateless, prefix, pensieve and pensieve/chat on stories260K and reports sane numbers', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-bench-smoke-'));
  try {
    const run = spawnSync(process.execPath, [
      CLI, 'bench', '--compare', 'stateless,prefix,pensieve,pensieve/chat', '--model', STORIES,
      '--workload', 'hh-rlhf', '--rate', '4', '--num-conversations', '6', '--think-time', '1', '--time-scale', '0.05',
      '--output-len', '8', '--max-context-tokens', '512', '--kv-cache-memory', '4M', '--out', out, '--json',
    ], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { results: Result[]; comparison: { ratios: { base: string; system: string; ratio: number | string }[] } };
    const by = new Map(report.results.map((r) => [r.system, r]));
    assert.deepEqual([...by.keys()], ['stateless', 'prefix', 'pensieve', 'pensieve/chat']);

    for (const r of report.results) {
      const s = r.summary;
      assert.ok(s.requests.completed >= 6, `${r.system}: ${s.requests.completed} turns`);
      assert.equal(s.requests.failed + s.requests.aborted, 0, `${r.system} left turns unfinished`);
      assert.ok(s.requestThroughput > 0 && s.outputTokenThroughput > 0, `${r.system}: throughput`);
      // Exactly 8 tokens per reply: every route the modes use honours ignore_eos.
      assert.equal(s.tokens.output, 8 * s.requests.completed, `${r.system}: ${s.tokens.output} output tokens`);
      assert.ok(s.ttftS.p50 > 0 && s.ttftS.p50 <= s.ttftS.p90 && s.ttftS.p90 < 30, `${r.system}: TTFT ${JSON.stringify(s.ttftS)}`);
      assert.ok(s.e2eS.p50 >= s.ttftS.p50, `${r.system}: E2E < TTFT`);
      assert.ok(s.normLatencyS.p90 > 0 && s.normLatencyS.p90 < 10, `${r.system}: normalized latency`);
      assert.ok(r.cache !== null && r.cache.promptTokens === s.tokens.prompt, `${r.system}: /metrics agrees with the usage`);
    }
    // Same conversations everywhere: the prompts differ only by what each mode reuses.
    assert.equal(by.get('stateless')!.summary.tokens.cached, 0);
    assert.equal(by.get('stateless')!.cache!.cachedTokens, 0);
    for (const mode of ['prefix', 'pensieve', 'pensieve/chat']) {
      assert.ok(by.get(mode)!.summary.tokens.cached > 0, `${mode} reused nothing`);
      assert.equal(by.get(mode)!.cache!.cachedTokens, by.get(mode)!.summary.tokens.cached);
    }
    assert.ok(by.get('pensieve')!.summary.hitRate > 0.2, `pensieve hit rate ${by.get('pensieve')!.summary.hitRate}`);
    assert.ok(by.get('pensieve/chat')!.summary.hitRate > 0.2, `pensieve/chat hit rate ${by.get('pensieve/chat')!.summary.hitRate}`);
    assert.deepEqual(report.comparison.ratios.map((r) => `${r.base} vs ${r.system}`), [
      'pensieve vs stateless', 'pensieve vs prefix', 'pensieve vs pensieve/chat',
      'pensieve/chat vs stateless', 'pensieve/chat vs prefix', 'pensieve/chat vs pensieve',
    ]);

    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    for (const system of by.keys()) assert.match(md, new RegExp(`^\\| ${system.replace('/', '\\/')} \\| 4 \\|`, 'm'));
    for (const png of ['throughput-latency.png', 'hit-rate.png']) {
      const head = fs.readFileSync(path.join(out, png)).subarray(0, 8);
      assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${png} is a PNG`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
