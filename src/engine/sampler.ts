// Turns a row of logits into the next token: greedy at temperature 0, else a
// seeded draw after penalties, logit bias, temperature, top-k, top-p and min-p
// (applied in that order, as vLLM does). Penalties and bias change the logits
// greedy decoding sees too.
import { argmaxRow } from '../kernels/reference.js';

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off: drop tokens with p < minP · p_max. */
  minP: number;
  /** OpenAI semantics: subtracted once from every token already generated. */
  presencePenalty: number;
  /** OpenAI semantics: subtracted per occurrence in the generated text. */
  frequencyPenalty: number;
  /**
   * vLLM/HF semantics: every token seen in the prompt or the output has its logit divided by
   * this (positive logits) or multiplied by it (negative ones). 1 or absent = off.
   */
  repetitionPenalty?: number;
  /** OpenAI's logit_bias: [token id, bias] pairs, the bias added to that token's logit. */
  logitBias?: ReadonlyArray<readonly [number, number]>;
  /** Makes sampling repeatable; undefined draws a random seed. */
  seed?: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, minP: 0, presencePenalty: 0, frequencyPenalty: 0 };

/** xoshiro128** — small, fast, and good enough for sampling; seeded by splitmix32. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
  }
  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Index of the first maximum (NaN never wins): the plain-JS row argmax. */
export const argmax: ArgmaxFn = argmaxRow;

/** Picks a row's argmax; the engine passes its kernels' (native: ~6x the JS loop on a 150k vocabulary). */
export type ArgmaxFn = (row: Float32Array) => number;

// Tokens more than this far below the best logit (in units of temperature)
// carry less than e^-30 ≈ 1e-13 of the best one's weight each: leaving them out
// of the sort changes the distribution by under 1e-8 even for a 150k vocab.
const NEGLIGIBLE_LOGIT_GAP = 30;

/** A per-request constraint on the next token (grammar/matcher.ts): a copy of the row with refused tokens at -Infinity. */
export interface LogitMask {
  apply(logits: Float32Array): Float32Array;
}

export class Sampler {
  private readonly rng: Rng;
  private readonly counts = new Map<number, number>();
  /** Distinct tokens of the prompt and the output: what the repetition penalty lowers. */
  private readonly seen = new Set<number>();

  /** `promptTokens` feed the repetition penalty (vLLM counts the prompt too); unused without one. */
  constructor(readonly params: SamplingParams, promptTokens: Iterable<number> = [], private readonly mask: LogitMask | null = null) {
    this.rng = new Rng(params.seed ?? Math.floor(Math.random() * 2 ** 32));
    if (hasRepetitionPenalty(params)) for (const t of promptTokens) this.seen.add(t);
  }

  /** Records a generated token (for the penalties). */
  accept(token: number): void {
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    if (hasRepetitionPenalty(this.params)) this.seen.add(token);
  }

  /**
   * The logits after the penalties and the bias: a copy when any applies. Repetition first, on
   * the model's own logits (as HF and vLLM apply it), then presence/frequency, then the bias,
   * so a ±100 bias keeps its meaning whatever the penalties did.
   */
  private adjusted(logitsIn: Float32Array): Float32Array {
    const p = this.params;
    const bias = p.logitBias ?? [];
    const repetition = hasRepetitionPenalty(p);
    if (!repetition && p.presencePenalty === 0 && p.frequencyPenalty === 0 && bias.length === 0) return logitsIn;
    const logits = Float32Array.from(logitsIn);
    if (repetition) {
      const r = p.repetitionPenalty!;
      for (const tok of this.seen) {
        if (tok >= logits.length) continue;
        const l = logits[tok]!;
        logits[tok] = l > 0 ? l / r : l * r;
      }
    }
    if (p.presencePenalty !== 0 || p.frequencyPenalty !== 0) {
      for (const [tok, n] of this.counts) logits[tok] = logits[tok]! - p.presencePenalty - n * p.frequencyPenalty;
    }
    for (const [tok, b] of bias) if (tok >= 0 && tok < logits.length) logits[tok] = logits[tok]! + b;
    return logits;
  }

  /**
   * The next token from a row of logits. Candidates are the tokens within 30·T of the best
   * logit, and they are never sorted: top-k finds its k by selecting the k-th logit, top-p its
   * set by quickselect on the probability mass, so a flat distribution over a large vocabulary
   * costs O(vocab), not a sort of it.
   */
  sample(logitsIn: Float32Array, argmaxOf: ArgmaxFn = argmax): number {
    const p = this.params;
    // The mask comes first: penalties and bias then only reorder tokens the grammar allows.
    const logits = this.adjusted(this.mask === null ? logitsIn : this.mask.apply(logitsIn));
    if (p.temperature <= 0) return argmaxOf(logits);

    const best = logits[argmaxOf(logits)]!;
    // min-p as a logit threshold: p ≥ minP·p_max ⟺ logit ≥ best + T·ln(minP). It comes after
    // top-p, whose cumulative sum runs over the tokens min-p later drops; top-k commutes with it.
    const minLogit = p.minP > 0 ? best + p.temperature * Math.log(p.minP) : -Infinity;
    const gapFloor = best - NEGLIGIBLE_LOGIT_GAP * p.temperature;
    let cand = candidates(logits, p.topP < 1 ? gapFloor : Math.max(gapFloor, minLogit));
    if (p.topK > 0 && cand.length > p.topK) cand = topK(logits, cand, p.topK);

    const weights = new Float64Array(cand.length);
    let total = 0;
    for (let j = 0; j < cand.length; j++) total += weights[j] = Math.exp((logits[cand[j]!]! - best) / p.temperature);
    let keep = cand.length;
    if (p.topP < 1) {
      keep = topPPrefix(logits, cand, weights, p.topP * total);
      // min-p over what top-p kept (the best token always passes).
      let n = 0;
      for (let j = 0; j < keep; j++) {
        if (logits[cand[j]!]! >= minLogit) {
          cand[n] = cand[j]!;
          weights[n++] = weights[j]!;
        }
      }
      keep = n;
      total = 0;
      for (let j = 0; j < keep; j++) total += weights[j]!;
    }
    let u = this.rng.next() * total;
    for (let j = 0; j < keep; j++) {
      u -= weights[j]!;
      if (u < 0) return cand[j]!;
    }
    return cand[keep - 1]!;
  }
}

function hasRepetitionPenalty(p: SamplingParams): boolean {
  return p.repetitionPenalty !== undefined && p.repetitionPenalty !== 1;
}

/** Ids of the tokens whose logit is ≥ floor (at least the best one), in id order. */
function candidates(logits: Float32Array, floor: number): Int32Array {
  let n = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i]! >= floor) n++;
  const out = new Int32Array(n);
  n = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i]! >= floor) out[n++] = i;
  return out;
}

/** The k best of `ids` (by logit, ties to the lower id), in id order: the k-th value by selection, then one pass. */
function topK(logits: Float32Array, ids: Int32Array, k: number): Int32Array {
  const values = Float32Array.from(ids, (i) => logits[i]!);
  const kth = selectDescending(values, k - 1);
  const out = new Int32Array(k);
  let above = 0;
  for (let j = 0; j < ids.length; j++) if (logits[ids[j]!]! > kth) above++;
  let ties = k - above, n = 0;
  for (let j = 0; j < ids.length; j++) {
    const v = logits[ids[j]!]!;
    if (v > kth || (v === kth && ties-- > 0)) out[n++] = ids[j]!;
  }
  return out;
}

/**
 * Top-p without a sort: moves to the front of ids/weights the smallest set of best tokens (by
 * logit descending, then id) whose weights sum to at least `mass`, and returns its size.
 * Quickselect on the mass: a three-way partition around a pivot logit; the set ends inside the
 * part above the pivot, or inside the tied part (which all weigh the same: the lowest ids go
 * first), or takes both whole and goes on below. O(n) expected, where a sort of a flat 150k
 * vocabulary took ~50 ms a token.
 */
function topPPrefix(logits: Float32Array, ids: Int32Array, weights: Float64Array, mass: number): number {
  const swap = (i: number, j: number) => {
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
    const w = weights[i]!;
    weights[i] = weights[j]!;
    weights[j] = w;
  };
  let lo = 0, hi = ids.length, left = mass;  // [0, lo) kept; [lo, hi) undecided
  while (lo < hi) {
    const pivot = logits[ids[lo + ((hi - lo) >> 1)]!]!;
    let gt = lo, i = lo, lt = hi;  // [lo, gt) above the pivot, [gt, i) equal, [lt, hi) below
    while (i < lt) {
      const v = logits[ids[i]!]!;
      if (v > pivot) swap(gt++, i++);
      else if (v < pivot) swap(i, --lt);
      else i++;
    }
    let above = 0, equal = 0;
    for (let j = lo; j < gt; j++) above += weights[j]!;
    for (let j = gt; j < lt; j++) equal += weights[j]!;
    if (gt > lo && above >= left) {
      hi = gt;
      continue;
    }
    if (above + equal >= left) {
      const tied = ids.subarray(gt, lt).sort();
      const need = Math.ceil((left - above) / weights[gt]!);
      return Math.max(1, gt + Math.min(tied.length, Math.max(1, need)));
    }
    left -= above + equal;
    lo = lt;
  }
  return Math.max(1, lo);
}

/** The value that would sit at index k if v were sorted descending (Hoare quickselect; reorders v). */
function selectDescending(v: Float32Array, k: number): number {
  let lo = 0, hi = v.length - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >> 1]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (v[i]! > pivot) i++;
      while (v[j]! < pivot) j--;
      if (i <= j) {
        const t = v[i]!;
        v[i++] = v[j]!;
        v[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k]!;
  }
  return v[k]!;
}
