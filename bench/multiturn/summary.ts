// From turn records to the numbers a serving benchmark reports (vLLM's benchmark_serving and the
// Pensieve paper): TTFT, TPOT, inter-token latency, end-to-end latency and normalized latency
// (end-to-end seconds per output token) as mean/p50/p90/p99, request and token throughput, and
// goodput (requests per second that met the TTFT and TPOT objectives). A turn that did not
// finish counts with an infinite latency, so a percentile it reaches reads as "did not sustain".

import type { TierTokens, TurnRecord } from './client.js';
import type { LoadResult } from './load-generator.js';

export interface Distribution {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface Slo {
  /** Seconds; undefined: no objective. */
  ttft?: number;
  tpot?: number;
}

export interface LoadSummary {
  requests: { completed: number; failed: number; aborted: number };
  conversations: { started: number; completed: number; cutShort: number };
  elapsedS: number;
  requestThroughput: number;
  outputTokenThroughput: number;
  /** Prompt + output tokens per second (prompt tokens count whether cached or not). */
  totalTokenThroughput: number;
  tokens: { prompt: number; output: number; cached: number; computedPrompt: number | null; recomputed: number | null; cachedByTier: TierTokens | null };
  /** Fraction of prompt tokens whose KV was reused. */
  hitRate: number;
  /** Finished turns that produced fewer tokens than asked (EOS before the limit). */
  shortOutputs: number;
  ttftS: Distribution;
  tpotS: Distribution;
  itlS: Distribution;
  e2eS: Distribution;
  /** End-to-end seconds per output token. */
  normLatencyS: Distribution;
  goodput: { slo: Slo; requestsPerS: number; fraction: number };
  errors: string[];
}

/** Linear-interpolated percentile (numpy's default) of sorted values; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const x = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(x);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  if (a === b || x === lo) return a;
  return a + (b - a) * (x - lo);
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? NaN : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { mean, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) };
}

export function summarize(load: LoadResult, slo: Slo = {}): LoadSummary {
  const ok = load.records.filter((r) => r.status === 'ok');
  const unfinished = load.records.length - ok.length;
  const elapsedS = load.elapsedMs / 1000;
  const sum = (f: (r: TurnRecord) => number) => ok.reduce((s, r) => s + f(r), 0);
  const known = (f: (r: TurnRecord) => number | null) => (ok.every((r) => f(r) !== null) && ok.length > 0 ? sum((r) => f(r)!) : null);
  const prompt = sum((r) => r.promptTokens);
  const output = sum((r) => r.outputTokens);
  const cached = sum((r) => r.cachedTokens);

  const ttft = ok.map((r) => ((r.firstTokenAt ?? r.endAt) - r.sentAt) / 1000);
  const tpot = ok.filter((r) => r.outputTokens > 1 && r.firstTokenAt !== null).map((r) => (r.endAt - r.firstTokenAt!) / 1000 / (r.outputTokens - 1));
  const itl = ok.flatMap((r) => r.chunkTimes.slice(1).map((t, k) => (t - r.chunkTimes[k]!) / 1000));
  const e2e = ok.map((r) => (r.endAt - r.sentAt) / 1000);
  const norm = ok.map((r) => (r.endAt - r.sentAt) / 1000 / Math.max(1, r.outputTokens));
  const inf = Array<number>(unfinished).fill(Infinity);

  const meets = (r: TurnRecord) => {
    const t = ((r.firstTokenAt ?? r.endAt) - r.sentAt) / 1000;
    const p = r.outputTokens > 1 && r.firstTokenAt !== null ? (r.endAt - r.firstTokenAt) / 1000 / (r.outputTokens - 1) : 0;
    return (slo.ttft === undefined || t <= slo.ttft) && (slo.tpot === undefined || p <= slo.tpot);
  };
  const good = ok.filter(meets).length;
  const errors = [...new Set(load.records.filter((r) => r.status === 'error').map((r) => r.error ?? 'unknown'))].slice(0, 5);

  return {
    requests: { completed: ok.length, failed: load.records.filter((r) => r.status === 'error').length, aborted: load.records.filter((r) => r.status === 'aborted').length },
    conversations: { started: load.conversationsStarted, completed: load.conversationsCompleted, cutShort: load.conversationsCutShort },
    elapsedS,
    requestThroughput: rate(ok.length, elapsedS),
    outputTokenThroughput: rate(output, elapsedS),
    totalTokenThroughput: rate(prompt + output, elapsedS),
    tokens: {
      prompt, output, cached, computedPrompt: known((r) => r.computedPromptTokens), recomputed: known((r) => r.recomputedTokens),
      cachedByTier: ok.length > 0 && ok.every((r) => r.cachedByTier !== null)
        ? { device: sum((r) => r.cachedByTier!.device), host: sum((r) => r.cachedByTier!.host), disk: sum((r) => r.cachedByTier!.disk), shared: sum((r) => r.cachedByTier!.shared ?? 0) }
        : null,
    },
    hitRate: prompt === 0 ? 0 : cached / prompt,
    shortOutputs: ok.filter((r) => r.outputTokens < r.maxTokens).length,
    ttftS: distribution([...ttft, ...inf]),
    tpotS: distribution(tpot),
    itlS: distribution(itl),
    e2eS: distribution([...e2e, ...inf]),
    normLatencyS: distribution([...norm, ...inf]),
    goodput: { slo, requestsPerS: rate(good, elapsedS), fraction: load.records.length === 0 ? 0 : good / load.records.length },
    errors,
  };
}

function rate(n: number, seconds: number): number {
  return seconds > 0 ? n / seconds : 0;
}
