// Turns a row of logits into the next token: greedy at temperature 0, else a
// seeded draw after penalties, temperature, top-k, top-p and min-p (applied in
// that order, as vLLM does).

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

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

// Tokens more than this far below the best logit (in units of temperature)
// carry less than e^-30 ≈ 1e-13 of the best one's weight each: leaving them out
// of the sort changes the distribution by under 1e-8 even for a 150k vocab.
const NEGLIGIBLE_LOGIT_GAP = 30;

export class Sampler {
  private readonly rng: Rng;
  private readonly counts = new Map<number, number>();

  constructor(readonly params: SamplingParams) {
    this.rng = new Rng(params.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** Records a generated token (for the penalties). */
  accept(token: number): void {
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
  }

  sample(logitsIn: Float32Array): number {
    const p = this.params;
    let logits = logitsIn;
    if (p.presencePenalty !== 0 || p.frequencyPenalty !== 0) {
      logits = Float32Array.from(logitsIn);
      for (const [tok, n] of this.counts) logits[tok] = logits[tok]! - p.presencePenalty - n * p.frequencyPenalty;
    }
    if (p.temperature <= 0) return argmax(logits);

    const best = logits[argmax(logits)]!;
    const floor = best - NEGLIGIBLE_LOGIT_GAP * p.temperature;
    const cand: number[] = [];
    for (let i = 0; i < logits.length; i++) if (logits[i]! >= floor) cand.push(i);
    cand.sort((a, b) => logits[b]! - logits[a]! || a - b);
    if (p.topK > 0 && cand.length > p.topK) cand.length = p.topK;

    const probs = cand.map((i) => Math.exp((logits[i]! - best) / p.temperature));
    let total = probs.reduce((a, b) => a + b, 0);
    let keep = cand.length;
    if (p.topP < 1) {
      let cum = 0;
      for (let j = 0; j < cand.length; j++) {
        cum += probs[j]! / total;
        if (cum >= p.topP) {
          keep = j + 1;
          break;
        }
      }
    }
    if (p.minP > 0) {
      const threshold = p.minP * probs[0]!;
      while (keep > 1 && probs[keep - 1]! < threshold) keep--;
    }
    total = 0;
    for (let j = 0; j < keep; j++) total += probs[j]!;
    let u = this.rng.next() * total;
    for (let j = 0; j < keep; j++) {
      u -= probs[j]!;
      if (u < 0) return cand[j]!;
    }
    return cand[keep - 1]!;
  }
}
