// Turns "what runs this step" — a list of sequences, each with its query tokens,
// their positions and its block table — into the flat tensors of one forward
// pass, and hands back logits only where they are needed.
import type { KvCache } from '../model/kv-cache.js';
import type { ForwardBatch, Transformer } from '../model/transformer.js';

export interface SequenceStep {
  /** Token ids computed this step (a prefill chunk, a recomputed prefix + new prompt, or one decode token). */
  tokens: ArrayLike<number>;
  /** Absolute position of each token; need not be contiguous. */
  positions: ArrayLike<number>;
  /** Physical KV block of each logical block of the sequence, in position order. */
  blockTable: ArrayLike<number>;
  /** KV tokens valid once this step is written (usually the highest position + 1). */
  contextLen: number;
  /** Which rows' logits to return: the last (to sample), all (tests, scoring) or none (a prefill chunk). */
  logits: 'last' | 'all' | 'none';
}

export function buildForwardBatch(seqs: readonly SequenceStep[], blockSize: number): ForwardBatch {
  const T = seqs.reduce((n, s) => n + s.tokens.length, 0);
  const tableLen = seqs.reduce((n, s) => n + s.blockTable.length, 0);
  const tokens = new Int32Array(T);
  const positions = new Int32Array(T);
  const slotMapping = new Int32Array(T);
  const qIndptr = new Int32Array(seqs.length + 1);
  const blockTables = new Int32Array(tableLen);
  const blockTableIndptr = new Int32Array(seqs.length + 1);
  const contextLens = new Int32Array(seqs.length);
  const logitRows: number[] = [];

  let row = 0;
  let tableAt = 0;
  seqs.forEach((s, r) => {
    if (s.tokens.length !== s.positions.length) throw new RangeError(`sequence ${r}: ${s.tokens.length} tokens but ${s.positions.length} positions`);
    if (s.tokens.length === 0) throw new RangeError(`sequence ${r}: no tokens to compute`);
    for (let i = 0; i < s.tokens.length; i++, row++) {
      const pos = s.positions[i]!;
      const block = Math.floor(pos / blockSize);
      if (pos < 0 || pos >= s.contextLen || block >= s.blockTable.length) {
        throw new RangeError(`sequence ${r}: position ${pos} outside its context (${s.contextLen}) or block table (${s.blockTable.length} blocks)`);
      }
      tokens[row] = s.tokens[i]!;
      positions[row] = pos;
      slotMapping[row] = s.blockTable[block]! * blockSize + (pos % blockSize);
      if (s.logits === 'all' || (s.logits === 'last' && i === s.tokens.length - 1)) logitRows.push(row);
    }
    qIndptr[r + 1] = row;
    for (let i = 0; i < s.blockTable.length; i++) blockTables[tableAt++] = s.blockTable[i]!;
    blockTableIndptr[r + 1] = tableAt;
    contextLens[r] = s.contextLen;
  });
  return { tokens, positions, slotMapping, qIndptr, blockTables, blockTableIndptr, contextLens, logitRows: Int32Array.from(logitRows) };
}

export class ModelRunner {
  /** Logits of the last step, reused: a batch of 32 decodes has 19 MB of them (Qwen2.5 vocab). */
  private logits = new Float32Array(0);

  private readonly pick = new Int32Array(1);

  constructor(readonly model: Transformer, readonly kv: KvCache) {}

  /** The greedy pick of one logits row, by the model's kernels (a Sampler's ArgmaxFn). */
  readonly argmax = (row: Float32Array): number => {
    this.model.kernels.argmax(row, this.pick);
    return this.pick[0]!;
  };

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  /**
   * Runs one forward pass; returns, per sequence, its requested logits rows ([rows][vocab],
   * empty for 'none'). The rows are views of one buffer the next step overwrites: copy what
   * must outlive the step.
   */
  step(seqs: readonly SequenceStep[]): Float32Array[] {
    const batch = buildForwardBatch(seqs, this.kv.blockSize);
    const V = this.vocabSize;
    const rows = batch.logitRows.length * V;
    if (this.logits.length < rows) this.logits = new Float32Array(rows);
    const logits = this.model.forward(batch, this.kv, this.logits);
    let at = 0;
    return seqs.map((s) => {
      const rows = s.logits === 'all' ? s.tokens.length : s.logits === 'last' ? 1 : 0;
      const out = logits.subarray(at * V, (at + rows) * V);
      at += rows;
      return out;
    });
  }
}
