// A request's grammar state during generation: the mask of tokens it may sample next (applied
// to its logits by the sampler), advanced by each token sampled, and whether the value is
// complete (then, and only then, end-of-sequence is allowed). One Grammars per engine holds
// the vocabulary index, the compiled grammars by format, and the masks by state, so requests
// with the same schema share all three.

import { advanceBytes, initialStacks, isAccepting, stateKey, type Stack } from './automaton.js';
import { compileFormat, formatKey, type ResponseFormat } from './format.js';
import type { Grammar } from './grammar.js';
import { computeMask, has, hasAny } from './mask.js';
import { vocabFor, type Vocab } from './vocab.js';
import type { Tokenizer } from '../../model/tokenizer/types.js';
import type { LogitMask } from '../sampler.js';

/** Compiled grammars kept; a grammar is small, its masks are what cost memory. */
const MAX_GRAMMARS = 64;
/** Masks kept across grammars (~19 KB each on a 151k vocabulary: ~40 MB). */
const MAX_MASKS = 2048;

interface Compiled {
  id: number;
  grammar: Grammar;
}

export class Grammars {
  private vocabulary: Vocab | null = null;
  private readonly compiled = new Map<string, Compiled>();
  private readonly masks = new Map<string, Uint32Array>();
  private nextId = 0;
  /** Masks computed (not found in the cache), and the time they took: the figures to watch. */
  readonly counters = { masksComputed: 0, maskMs: 0, maskHits: 0 };

  private scratchRow = new Float32Array(0);

  constructor(private readonly tokenizer: Tokenizer, private readonly vocabSize: number) {}

  /** The buffer masked rows are written to (one at a time: sampling is sequential). */
  scratch(n: number): Float32Array {
    if (this.scratchRow.length !== n) this.scratchRow = new Float32Array(n);
    return this.scratchRow;
  }

  get vocab(): Vocab {
    return (this.vocabulary ??= vocabFor(this.tokenizer, this.vocabSize));
  }

  /** A matcher for a new request; throws SchemaError for a format it cannot honour. */
  matcher(format: ResponseFormat, stopIds: ReadonlySet<number>): GrammarMatcher {
    const key = formatKey(format);
    let c = this.compiled.get(key);
    if (c === undefined) {
      c = { id: this.nextId++, grammar: compileFormat(format) };
      if (this.compiled.size >= MAX_GRAMMARS) this.compiled.delete(this.compiled.keys().next().value!);
    } else this.compiled.delete(key);
    this.compiled.set(key, c); // most recently used last
    return new GrammarMatcher(this, c, stopIds);
  }

  /** The state's mask, cached (least recently used out first). */
  maskOf(c: Compiled, stacks: readonly Stack[]): Uint32Array {
    const key = `${c.id}\n${stateKey(stacks)}`;
    let bits = this.masks.get(key);
    if (bits !== undefined) {
      this.counters.maskHits++;
      this.masks.delete(key);
    } else {
      const t0 = performance.now();
      bits = computeMask(c.grammar, this.vocab, stacks);
      this.counters.maskMs += performance.now() - t0;
      this.counters.masksComputed++;
      if (this.masks.size >= MAX_MASKS) this.masks.delete(this.masks.keys().next().value!);
    }
    this.masks.set(key, bits);
    return bits;
  }
}

export class GrammarMatcher implements LogitMask {
  private stacks: Stack[];
  private bits: Uint32Array | null = null;

  constructor(private readonly owner: Grammars, private readonly compiled: Compiled, private readonly stopIds: ReadonlySet<number>) {
    this.stacks = initialStacks(compiled.grammar);
  }

  /** The value is complete: end-of-sequence may come now. */
  get accepting(): boolean {
    return isAccepting(this.stacks);
  }

  /** Tokens (end-of-sequence aside) the state accepts. */
  mask(): Uint32Array {
    return (this.bits ??= this.owner.maskOf(this.compiled, this.stacks));
  }

  /** Whether any token but end-of-sequence may follow. */
  canContinue(): boolean {
    return hasAny(this.mask());
  }

  allows(token: number): boolean {
    if (this.stopIds.has(token)) return this.accepting;
    return token < this.owner.vocab.size && has(this.mask(), token);
  }

  /** Moves past a sampled token (not an end-of-sequence one); throws if the grammar refuses it. */
  accept(token: number): void {
    const bytes = this.owner.vocab.bytes[token] ?? null;
    const next = bytes === null ? null : advanceBytes(this.compiled.grammar, this.stacks, bytes);
    if (next === null) throw new Error(`token ${token} does not fit the response format's grammar`);
    this.stacks = next;
    this.bits = null;
  }

  /**
   * A copy of the row with every refused token at -Infinity. Built from whichever side is
   * smaller: a sparse mask (a key, a number) starts from all -Infinity and copies the allowed
   * logits; a dense one (inside a string) copies the row and blanks the few refused tokens. The
   * copy goes to a buffer of the Grammars, reused: the sampler is done with it before the next.
   */
  apply(logitsIn: Float32Array): Float32Array {
    const bits = this.mask();
    const n = logitsIn.length;
    const logits = this.owner.scratch(n);
    let allowed = 0;
    for (let w = 0; w < bits.length; w++) allowed += popcount(bits[w]!);
    if (allowed < n / 2) {
      logits.fill(-Infinity);
      for (let w = 0; w < bits.length; w++) {
        let word = bits[w]!;
        while (word !== 0) {
          const i = (w << 5) + 31 - Math.clz32(word & -word);
          word &= word - 1;
          if (i < n) logits[i] = logitsIn[i]!;
        }
      }
    } else {
      logits.set(logitsIn);
      for (let w = 0; w < bits.length; w++) {
        let refused = ~bits[w]!;
        if (refused === 0) continue;
        const base = w << 5;
        if (refused === -1) {
          logits.fill(-Infinity, base, Math.min(base + 32, n));
          continue;
        }
        while (refused !== 0) {
          const i = base + 31 - Math.clz32(refused & -refused);
          refused &= refused - 1;
          if (i < n) logits[i] = -Infinity;
        }
      }
      if (n > bits.length * 32) logits.fill(-Infinity, bits.length * 32);
    }
    for (const id of this.stopIds) if (id < n) logits[id] = this.accepting ? logitsIn[id]! : -Infinity;
    return logits;
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
