// Routing for a mixture-of-experts FFN, as plain data: which experts each token goes to and with
// what weight (routeTokens), and the same choices grouped by expert (groupByExpert) so each used
// expert runs once over all its rows. The math is transformers' MixtralSparseMoeBlock and
// Qwen3MoeSparseMoeBlock, and llama.cpp's build_moe_ffn with softmax gating:
//   p = softmax(router logits over all experts); chosen = top-k of p;
//   w_i = p_i, divided by Σ_chosen p when normalised.
// Ties (equal logits) go to the lower expert index, so a choice never depends on sort stability.

export interface Routing {
  /** Tokens routed (rows of the batch). */
  tokens: number;
  /** Experts per token (k). */
  topK: number;
  /** [tokens][topK] chosen experts, by descending weight (ties: lower index first). */
  experts: Int32Array;
  /** [tokens][topK] their weights. */
  weights: Float32Array;
}

/**
 * Routes each of `tokens` rows of `logits` ([tokens][numExperts], the router's output) to its
 * `topK` experts. Selection works on the logits (softmax is monotonic), so two experts tie only
 * when their logits do; weights are computed in f64 and stored as f32. NaN logits are not
 * treated specially (a model that makes them is broken either way).
 */
export function routeTokens(logits: Float32Array, tokens: number, numExperts: number, topK: number, normalize: boolean): Routing {
  if (logits.length < tokens * numExperts) throw new Error(`router logits hold ${logits.length} values, need ${tokens}×${numExperts}`);
  if (!(topK >= 1 && topK <= numExperts)) throw new Error(`top-k ${topK} is outside 1..${numExperts}`);
  const experts = new Int32Array(tokens * topK);
  const weights = new Float32Array(tokens * topK);
  const chosen = new Int32Array(topK);
  for (let t = 0; t < tokens; t++) {
    const row = logits.subarray(t * numExperts, (t + 1) * numExperts);
    // Insertion into a sorted top-k: strict > keeps the earlier (lower) index ahead on ties.
    let n = 0;
    for (let e = 0; e < numExperts; e++) {
      const v = row[e]!;
      if (n === topK && !(v > row[chosen[n - 1]!]!)) continue;
      let i = n < topK ? n++ : n - 1;
      while (i > 0 && v > row[chosen[i - 1]!]!) {
        chosen[i] = chosen[i - 1]!;
        i--;
      }
      chosen[i] = e;
    }
    let max = -Infinity;
    for (let e = 0; e < numExperts; e++) if (row[e]! > max) max = row[e]!;
    let all = 0;
    for (let e = 0; e < numExperts; e++) all += Math.exp(row[e]! - max);
    let picked = 0;
    for (let i = 0; i < topK; i++) picked += Math.exp(row[chosen[i]!]! - max);
    const denom = normalize ? picked : all;
    for (let i = 0; i < topK; i++) {
      experts[t * topK + i] = chosen[i]!;
      weights[t * topK + i] = Math.exp(row[chosen[i]!]! - max) / denom;
    }
  }
  return { tokens, topK, experts, weights };
}

/** A routing grouped by expert: the rows each expert computes and the weight of each. */
export interface ExpertGroups {
  /** [numExperts+1]: expert e's entries are indptr[e] .. indptr[e+1]-1. */
  indptr: Int32Array;
  /** [tokens·topK] row (token) of each entry, ascending within an expert. */
  rows: Int32Array;
  /** [tokens·topK] the routing weight of each entry. */
  weights: Float32Array;
}

/** Counting sort of a routing's (token, expert) pairs by expert; stable, so rows ascend. */
export function groupByExpert(routing: Routing, numExperts: number): ExpertGroups {
  const { experts, weights } = routing;
  const indptr = new Int32Array(numExperts + 1);
  for (const e of experts) {
    if (e < 0 || e >= numExperts) throw new Error(`expert ${e} is outside 0..${numExperts - 1}`);
    indptr[e + 1]!++;
  }
  for (let e = 0; e < numExperts; e++) indptr[e + 1]! += indptr[e]!;
  const next = indptr.slice(0, numExperts);
  const rows = new Int32Array(experts.length);
  const grouped = new Float32Array(experts.length);
  for (let j = 0; j < experts.length; j++) {
    const at = next[experts[j]!]!++;
    rows[at] = Math.floor(j / routing.topK);
    grouped[at] = weights[j]!;
  }
  return { indptr, rows, weights: grouped };
}
