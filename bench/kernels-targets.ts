// Issue 12's "done when" as verdicts over bench/kernels.ts's medians: one row per target with
// what was measured, what was needed and PASS or FAIL. A target Pensieve could not be measured
// on (it refuses the file's types) is a FAIL that says why; one whose llama.cpp side is missing
// cannot be judged (n/a). Pure: no I/O, so the rules are tested on their own.

/** Medians of one format's run (NaN where not measured) and why an engine did not run. */
export interface FormatResult {
  format: string;
  oursMissing?: string;
  llamaMissing?: string;
  decode: { ours: number; llama: number; oursShareOfBandwidth: number };
  prefill512: { ours: number; llama: number };
  batch32: { ours: number; llama: number };
  rss?: { rssBeforeBytes: number; rssAfterBytes: number; fileBytes: number; kvPoolBytes: number };
}

export interface AttentionResultShare {
  kvDType: string;
  context: number;
  queryTokens: number;
  /** Roofline time over measured time. */
  share: number;
}

export type Verdict = 'PASS' | 'FAIL' | 'n/a';

export interface TargetRow {
  target: string;
  format: string;
  measured: string;
  needed: string;
  verdict: Verdict;
}

/** Per-format targets of the issue: decode and prefill 512 against llama.cpp (ratios), and extras. */
const RATIO_TARGETS: Readonly<Record<string, { decode: number; prefill512: number; batched?: { vsOwnBatch1: number; vsLlama: number } }>> = {
  q4_k_m: { decode: 1.3, prefill512: 2, batched: { vsOwnBatch1: 6, vsLlama: 1.5 } },
  q4_0: { decode: 1.3, prefill512: 2, batched: { vsOwnBatch1: 6, vsLlama: 1.5 } },
  bf16: { decode: 1.2, prefill512: 1.2 },
  q8_0: { decode: 1.5, prefill512: 1.5 },
};
const BF16_DECODE_BANDWIDTH_SHARE = 0.9;
const ATTENTION_ROOFLINE_SHARE = 0.5;
const RSS_SLACK = 0.1;

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** A Pensieve / llama.cpp tok/s ratio against `needed`. */
function ratioRow(target: string, r: FormatResult, ours: number, theirs: number, needed: number): TargetRow {
  const base = { target, format: r.format, needed: `≥ ${needed}×` };
  if (r.oursMissing) return { ...base, measured: `pensieve did not run: ${r.oursMissing}`, verdict: 'FAIL' };
  if (r.llamaMissing || !Number.isFinite(theirs)) return { ...base, measured: `llama.cpp did not run${r.llamaMissing ? `: ${r.llamaMissing}` : ''}`, verdict: 'n/a' };
  const ratio = ours / theirs;
  return { ...base, measured: `${f2(ratio)}× (${f1(ours)} vs ${f1(theirs)} tok/s)`, verdict: ratio >= needed ? 'PASS' : 'FAIL' };
}

export function judgeTargets(results: readonly FormatResult[], attention: readonly AttentionResultShare[]): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const r of results) {
    const t = RATIO_TARGETS[r.format];
    if (!t) continue;
    rows.push(ratioRow('decode, batch 1, × llama.cpp', r, r.decode.ours, r.decode.llama, t.decode));
    rows.push(ratioRow('prefill 512, × llama.cpp', r, r.prefill512.ours, r.prefill512.llama, t.prefill512));
    if (t.batched) {
      const own = { target: 'decode, 32 sequences, × own batch 1', format: r.format, needed: `≥ ${t.batched.vsOwnBatch1}×` };
      if (r.oursMissing) rows.push({ ...own, measured: `pensieve did not run: ${r.oursMissing}`, verdict: 'FAIL' });
      else {
        const x = r.batch32.ours / r.decode.ours;
        rows.push({ ...own, measured: `${f2(x)}× (${f1(r.batch32.ours)} vs ${f1(r.decode.ours)} tok/s)`, verdict: x >= t.batched.vsOwnBatch1 ? 'PASS' : 'FAIL' });
      }
      rows.push(ratioRow('decode, 32 sequences, × llama-batched-bench', r, r.batch32.ours, r.batch32.llama, t.batched.vsLlama));
    }
    if (r.format === 'bf16') {
      const base = { target: 'decode, batch 1, share of probed bandwidth', format: r.format, needed: `≥ ${100 * BF16_DECODE_BANDWIDTH_SHARE}%` };
      const s = r.decode.oursShareOfBandwidth;
      rows.push(r.oursMissing ? { ...base, measured: `pensieve did not run: ${r.oursMissing}`, verdict: 'FAIL' }
        : !Number.isFinite(s) ? { ...base, measured: 'no bandwidth probe', verdict: 'n/a' }
          : { ...base, measured: `${(100 * s).toFixed(0)}%`, verdict: s >= BF16_DECODE_BANDWIDTH_SHARE ? 'PASS' : 'FAIL' });
    }
    if (r.format === 'q4_k_m') rows.push(rssRow(r));
  }
  for (const a of attention) {
    if (a.queryTokens !== 1) continue;
    const ok = Number.isFinite(a.share);
    rows.push({
      target: `decode attention over ${a.context} tokens, share of roofline`, format: `${a.kvDType} K/V`,
      measured: ok ? `${(100 * a.share).toFixed(0)}%` : 'no roofline probe', needed: `≥ ${100 * ATTENTION_ROOFLINE_SHARE}%`,
      verdict: !ok ? 'n/a' : a.share >= ATTENTION_ROOFLINE_SHARE ? 'PASS' : 'FAIL',
    });
  }
  return rows;
}

/**
 * RSS after load against file + 10% + KV pool. Judged on what loading added to the process
 * (RSS after minus RSS before: node, the addon and the modules take ~50–100 MiB of their own,
 * which is no part of the model); the total is shown beside it.
 */
function rssRow(r: FormatResult): TargetRow {
  const base = { target: 'RSS added by loading ≤ file + 10% + KV pool', format: r.format };
  if (r.oursMissing) return { ...base, measured: `pensieve did not run: ${r.oursMissing}`, needed: '', verdict: 'FAIL' };
  if (!r.rss) return { ...base, measured: 'not measured', needed: '', verdict: 'n/a' };
  const { rssBeforeBytes, rssAfterBytes, fileBytes, kvPoolBytes } = r.rss;
  const added = rssAfterBytes - rssBeforeBytes, limit = fileBytes * (1 + RSS_SLACK) + kvPoolBytes;
  return {
    ...base,
    measured: `${mib(added)} (total RSS ${mib(rssAfterBytes)}, ${mib(rssBeforeBytes)} before loading)`,
    needed: `≤ ${mib(limit)} (file ${mib(fileBytes)}, KV pool ${mib(kvPoolBytes)})`,
    verdict: added <= limit ? 'PASS' : 'FAIL',
  };
}
