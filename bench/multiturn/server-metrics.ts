// The server's own cache counters: GET /metrics (Prometheus text) before and after a run, and
// what every counter grew by. All `pensieve_*_total` series are kept, labels included, so
// counters that appear later (hits per tier, swaps) show up without changes here.

export type Counters = Record<string, number>;

/** Parses Prometheus exposition text into `name{labels}` → value, counters only. */
export function parseCounters(text: string): Counters {
  const out: Counters = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || !m[1]!.endsWith('_total')) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) out[m[1]! + (m[2] ?? '')] = value;
  }
  return out;
}

export async function scrapeCounters(origin: string): Promise<Counters | null> {
  try {
    const res = await fetch(`${origin}/metrics`);
    if (!res.ok) return null;
    return parseCounters(await res.text());
  } catch {
    return null;
  }
}

export function counterDelta(before: Counters | null, after: Counters | null): Counters | null {
  if (before === null || after === null) return null;
  const out: Counters = {};
  for (const [key, value] of Object.entries(after)) out[key] = value - (before[key] ?? 0);
  return out;
}

/** What the report shows of the counters: reuse and recompute, in tokens. */
export interface CacheCounters {
  promptTokens: number;
  cachedTokens: number;
  recomputedTokens: number;
  prefixQueries: number;
  prefixHits: number;
  preemptions: number;
  /** Prompt tokens reused, by the tier that held them (pensieve_cache_served_tokens_total). */
  servedByTier: Counters;
  /** Other counters about tiers and swaps (bytes swapped in/out...), as they come. */
  tiers: Counters;
}

export function cacheCounters(delta: Counters | null): CacheCounters | null {
  if (delta === null) return null;
  const get = (name: string) => Object.entries(delta).filter(([k]) => k === name || k.startsWith(`${name}{`)).reduce((s, [, v]) => s + v, 0);
  const servedByTier: Counters = {};
  const tiers: Counters = {};
  for (const [k, v] of Object.entries(delta)) {
    const served = /^pensieve_cache_served_tokens_total\{.*tier="([^"]+)"/.exec(k);
    if (served) servedByTier[served[1]!] = v;
    else if (/tier|host|disk|swap/.test(k)) tiers[k] = v;
  }
  return {
    promptTokens: get('pensieve_prompt_tokens_total'),
    cachedTokens: get('pensieve_prompt_tokens_cached_total'),
    recomputedTokens: get('pensieve_recomputed_tokens_total'),
    prefixQueries: get('pensieve_prefix_cache_queries_total'),
    prefixHits: get('pensieve_prefix_cache_hits_total'),
    preemptions: get('pensieve_preemptions_total'),
    servedByTier,
    tiers,
  };
}
