// A request's generated text as it grows: incremental detokenization plus
// stop-string matching. Text that could still turn into a stop string is held
// back, so a client never sees a stop string, not even its first half.
import { StreamDecoder } from '../model/tokenizer/stream.js';
import type { Tokenizer } from '../model/tokenizer/types.js';

export class OutputText {
  private readonly decoder: StreamDecoder;
  private readonly holdback: number;
  /** Decoded text not yet handed out (it may be the start of a stop string). */
  private pending = '';
  text = '';
  stoppedBy: string | null = null;

  constructor(tokenizer: Tokenizer, private readonly stops: readonly string[], promptTail: readonly number[] = []) {
    this.decoder = new StreamDecoder(tokenizer, { context: promptTail });
    this.holdback = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** Adds a generated token; returns the text that is now final. Sets stoppedBy when a stop string appears. */
  push(id: number): string {
    return this.release(this.decoder.push(id), false);
  }

  /** At the end of generation: everything still held back. */
  finish(): string {
    return this.stoppedBy === null ? this.release(this.decoder.flush(), true) : '';
  }

  private release(piece: string, final: boolean): string {
    if (this.stoppedBy !== null) return '';
    this.pending += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        this.stoppedBy = s;
      }
    }
    let out: string;
    if (cut >= 0) {
      out = this.pending.slice(0, cut);
      this.pending = '';
    } else {
      const keep = final ? 0 : Math.min(this.holdback, this.pending.length);
      out = this.pending.slice(0, this.pending.length - keep);
      this.pending = this.pending.slice(this.pending.length - keep);
    }
    this.text += out;
    return out;
  }
}
