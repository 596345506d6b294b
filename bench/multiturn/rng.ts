// Seeded randomness for repeatable workloads: a small PRNG, the distributions the load
// generator draws from (exponential inter-arrival and think times, lognormal lengths), and a
// text syntax for length distributions (`--synthetic-turns uniform:2:10`).

export class Rng {
  private state: number;

  constructor(seed: number) {
    // splitmix-style scramble so nearby seeds give unrelated streams
    let h = (seed >>> 0) ^ 0x9e3779b9;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    this.state = (h ^ (h >>> 16)) >>> 0;
  }

  /** A child stream whose values depend only on this seed and `key`. */
  static derive(seed: number, key: string): Rng {
    let h = 0x811c9dc5 ^ (seed >>> 0);
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return new Rng(h >>> 0);
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Exponential with the given mean (Poisson inter-arrival times, think times). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** A distribution of positive integers (turn counts, token lengths). */
export interface IntDistribution {
  readonly text: string;
  sample(rng: Rng): number;
}

/**
 * `const:N`, `uniform:LO:HI`, `exp:MEAN`, `lognormal:MEDIAN:SIGMA` (optionally `:MIN:MAX` after
 * any of them to clamp), e.g. `lognormal:120:0.8:16:512`. Samples are rounded, at least 1.
 */
export function parseDistribution(text: string): IntDistribution {
  const [kind, ...rest] = text.split(':');
  const nums = rest.map(Number);
  if (nums.some((n) => !Number.isFinite(n) || n < 0)) throw new RangeError(`bad distribution '${text}': parameters must be non-negative numbers`);
  const arity = { const: 1, uniform: 2, exp: 1, lognormal: 2 }[kind as 'const'];
  if (arity === undefined) throw new RangeError(`bad distribution '${text}': use const:N, uniform:LO:HI, exp:MEAN or lognormal:MEDIAN:SIGMA[:MIN:MAX]`);
  if (nums.length !== arity && nums.length !== arity + 2) throw new RangeError(`bad distribution '${text}': ${kind} takes ${arity} parameters (+ MIN:MAX)`);
  const [a, b] = nums as [number, number];
  const [min, max] = nums.length === arity + 2 ? [nums[arity]!, nums[arity + 1]!] : [1, Infinity];
  const raw = (rng: Rng): number => {
    switch (kind) {
      case 'const': return a;
      case 'uniform': return a + rng.next() * (b - a + 1) - 0.5;
      case 'exp': return rng.exponential(a);
      default: return a * Math.exp(b * rng.normal());
    }
  };
  return { text, sample: (rng) => Math.max(1, Math.min(max, Math.max(min, Math.round(raw(rng))))) };
}
