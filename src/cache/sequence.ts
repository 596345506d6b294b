// One request's view of the KV cache: its tokens, its block table (physical block per
// logical block, in position order), and which positions still need their KV computed.
//
// Unlike vLLM's single num_computed_tokens, what is missing can have holes: a returning
// conversation may need its dropped prefix {0..k-1} recomputed while its tail is still
// on device, plus its new prompt {n..n+m-1} (DESIGN.md §2). So the missing positions are
// kept as sorted ranges and always computed in position order, which keeps attention
// causal across steps: a position is computed only after every earlier missing one.
import { extendHashChain, type BlockHash } from './block-hash.js';

/** Positions [start, end). */
export interface PositionRange {
  start: number;
  end: number;
}

/** A logical block with no device block yet. */
export const NO_BLOCK = -1;

export class Sequence {
  readonly tokens: number[];
  /** Physical block id per logical block, NO_BLOCK where not yet allocated. */
  readonly blockTable: number[] = [];
  private readonly pending: PositionRange[] = [];
  private pendingCount = 0;
  private readonly hashes: BlockHash[];

  constructor(
    readonly requestId: string,
    tokens: readonly number[],
    readonly blockSize: number,
    knownHashes: readonly BlockHash[] = [],
  ) {
    this.tokens = tokens.slice();
    // Hashes a caller already knows for this token prefix (a conversation's history)
    // spare rehashing the whole history every turn.
    this.hashes = knownHashes.slice(0, Math.floor(tokens.length / blockSize));
  }

  get numTokens(): number {
    return this.tokens.length;
  }

  /** Positions whose KV is still to be computed. */
  get numPending(): number {
    return this.pendingCount;
  }

  pendingRanges(): readonly PositionRange[] {
    return this.pending;
  }

  /** Marks [start, end) as missing; ranges must be added in position order. */
  addPending(start: number, end: number): void {
    if (end <= start) return;
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && start < last.end) throw new Error(`pending range [${start}, ${end}) added out of order`);
    if (end > this.tokens.length) throw new RangeError(`pending range [${start}, ${end}) past ${this.tokens.length} tokens`);
    if (last !== undefined && last.end === start) last.end = end;
    else this.pending.push({ start, end });
    this.pendingCount += end - start;
  }

  /** Appends a decoded token; its KV is missing until computed. */
  append(token: number): void {
    this.tokens.push(token);
    this.addPending(this.tokens.length - 1, this.tokens.length);
  }

  /** The next `n` missing positions, in the order they must be computed. */
  nextPending(n: number): number[] {
    if (n > this.pendingCount) throw new RangeError(`${n} positions asked, ${this.pendingCount} pending`);
    const out: number[] = [];
    for (const r of this.pending) {
      for (let p = r.start; p < r.end && out.length < n; p++) out.push(p);
      if (out.length === n) break;
    }
    return out;
  }

  /** Marks the next `n` missing positions computed; returns them. */
  consumePending(n: number): number[] {
    const done = this.nextPending(n);
    let left = n;
    while (left > 0) {
      const r = this.pending[0]!;
      const take = Math.min(left, r.end - r.start);
      r.start += take;
      left -= take;
      if (r.start === r.end) this.pending.shift();
    }
    this.pendingCount -= n;
    return done;
  }

  /** True when every position of logical block `b` that exists has its KV. */
  isBlockComputed(b: number): boolean {
    const start = b * this.blockSize;
    const end = Math.min(start + this.blockSize, this.tokens.length);
    return !this.pending.some((r) => r.start < end && r.end > start);
  }

  isBlockFull(b: number): boolean {
    return (b + 1) * this.blockSize <= this.tokens.length;
  }

  /** The content hash of full logical block `b` (the chain is extended on demand). */
  blockHash(b: number, salt: string): BlockHash {
    if (!this.isBlockFull(b)) throw new RangeError(`block ${b} is not full`);
    return extendHashChain(this.hashes, this.tokens, this.blockSize, salt, b + 1)[b]!;
  }

  /** The hashes of the first `numBlocks` full blocks, as a new array. */
  blockHashes(numBlocks: number, salt: string): BlockHash[] {
    return extendHashChain(this.hashes, this.tokens, this.blockSize, salt, numBlocks).slice(0, numBlocks);
  }

  /** Sets the physical block of logical block `b`, growing the table with holes as needed. */
  setBlock(b: number, id: number): void {
    while (this.blockTable.length <= b) this.blockTable.push(NO_BLOCK);
    this.blockTable[b] = id;
  }

  /**
   * How much of this sequence a conversation can keep: `numTokens` ends the computed
   * history (where the trailing missing range starts, e.g. at the last sampled token that
   * was never fed back), and `holeEnd` is where the last missing range before it ends (0
   * when none): everything before it must count as dropped. Missing positions are taken
   * in order and the last prompt or sampled token is always missing until computed, so
   * the last missing range always runs to the end.
   */
  retainable(): { numTokens: number; holeEnd: number } {
    const n = this.pending.length;
    if (n === 0) return { numTokens: this.tokens.length, holeEnd: 0 };
    return { numTokens: this.pending[n - 1]!.start, holeEnd: n > 1 ? this.pending[n - 2]!.end : 0 };
  }
}
