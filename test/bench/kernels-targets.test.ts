// bench:kernels' verdicts on issue 12's targets: the ratios and limits it applies per format, a
// format Pensieve refuses counted as a failure (never silently skipped), and a missing llama.cpp
// or probe left unjudged.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeTargets, type FormatResult } from '../../bench/kernels-targets.js';

const MiB = 2 ** 20;

function result(format: string, over: Partial<FormatResult> = {}): FormatResult {
  return {
    format,
    decode: { ours: 65, llama: 50, oursShareOfBandwidth: 0.92 },
    prefill512: { ours: 460, llama: 228 },
    batch32: { ours: 400, llama: 250 },
    ...over,
  };
}

const verdicts = (rows: ReturnType<typeof judgeTargets>) => rows.map((r) => `${r.format} ${r.target}: ${r.verdict}`);

test('Q4_K_M: decode ≥ 1.3×, prefill 512 ≥ 2×, batch 32 ≥ 6× own batch 1 and ≥ 1.5× llama-batched-bench, RSS', () => {
  const rss = { rssBeforeBytes: 80 * MiB, rssAfterBytes: 80 * MiB + 400 * MiB, fileBytes: 380 * MiB, kvPoolBytes: 10 * MiB };
  const rows = judgeTargets([result('q4_k_m', { rss })], []);
  assert.deepEqual(verdicts(rows), [
    'q4_k_m decode, batch 1, × llama.cpp: PASS', // 65 / 50 = 1.3
    'q4_k_m prefill 512, × llama.cpp: PASS', // 460 / 228 = 2.02
    'q4_k_m decode, 32 sequences, × own batch 1: PASS', // 400 / 65 = 6.15
    'q4_k_m decode, 32 sequences, × llama-batched-bench: PASS', // 400 / 250 = 1.6
    'q4_k_m RSS added by loading ≤ file + 10% + KV pool: PASS', // 400 ≤ 418 + 10
  ]);
  const worse = judgeTargets([result('q4_k_m', {
    decode: { ours: 64, llama: 50, oursShareOfBandwidth: 1 }, prefill512: { ours: 450, llama: 228 }, batch32: { ours: 370, llama: 250 },
    rss: { ...rss, rssAfterBytes: rss.rssBeforeBytes + 429 * MiB },
  })], []);
  assert.deepEqual(worse.map((r) => r.verdict), ['FAIL', 'FAIL', 'FAIL', 'FAIL', 'FAIL']);
  assert.match(worse[0]!.measured, /^1\.28× \(64\.0 vs 50\.0 tok\/s\)$/);
});

test('bf16 needs 1.2× and 90% of the probed bandwidth; q8_0 needs 1.5×; other types are measured, not judged', () => {
  const rows = judgeTargets([
    result('bf16', { decode: { ours: 48, llama: 41, oursShareOfBandwidth: 0.89 }, prefill512: { ours: 540, llama: 450 } }),
    result('q8_0', { decode: { ours: 75, llama: 49, oursShareOfBandwidth: NaN }, prefill512: { ours: 420, llama: 281 } }),
    result('q6_k'),
  ], []);
  assert.deepEqual(verdicts(rows), [
    'bf16 decode, batch 1, × llama.cpp: FAIL', // 1.17
    'bf16 prefill 512, × llama.cpp: PASS', // 1.2
    'bf16 decode, batch 1, share of probed bandwidth: FAIL',
    'q8_0 decode, batch 1, × llama.cpp: PASS', // 1.53
    'q8_0 prefill 512, × llama.cpp: FAIL', // 1.49
  ]);
});

test('a format Pensieve refuses fails every target with the reason; without llama.cpp the ratios are n/a', () => {
  const refused = judgeTargets([result('q4_0', { oursMissing: 'tensor token_embd.weight has type Q4_0' })], []);
  assert.equal(refused.length, 4);
  for (const r of refused) {
    assert.equal(r.verdict, 'FAIL');
    assert.match(r.measured, /pensieve did not run: tensor token_embd.weight has type Q4_0/);
  }
  const noLlama = judgeTargets([result('q4_0', { llamaMissing: 'not run (--no-llama)' })], []);
  assert.deepEqual(noLlama.map((r) => r.verdict), ['n/a', 'n/a', 'PASS', 'n/a']);
});

test('decode attention over 4K tokens: one verdict per K/V dtype at one query token; no probe is n/a', () => {
  const rows = judgeTargets([], [
    { kvDType: 'f32', context: 4096, queryTokens: 1, share: 0.52 },
    { kvDType: 'f32', context: 4096, queryTokens: 16, share: 0.2 },
    { kvDType: 'bf16', context: 4096, queryTokens: 1, share: 0.37 },
    { kvDType: 'bf16', context: 4096, queryTokens: 512, share: Infinity },
  ]);
  assert.deepEqual(verdicts(rows), [
    'f32 K/V decode attention over 4096 tokens, share of roofline: PASS',
    'bf16 K/V decode attention over 4096 tokens, share of roofline: FAIL',
  ]);
  const unprobed = judgeTargets([], [{ kvDType: 'bf16', context: 4096, queryTokens: 1, share: NaN }]);
  assert.equal(unprobed[0]!.verdict, 'n/a');
});
