// Turning generated ids into text one id at a time. Decoding ids one by one is wrong twice
// over: SentencePiece decides a piece's leading space by its position, and a character's
// UTF-8 bytes may arrive over several tokens. So, as in HF text-generation-inference and
// vLLM's detokenizer, we decode a short window of recent ids twice — without and with the
// new ones — and emit the difference, holding back text that ends in an incomplete character.

import type { Tokenizer } from './types.js';

const REPLACEMENT = '\uFFFD';
/** Context ids kept in front of the first new id, as vLLM's initial detokenization offset. */
const CONTEXT_IDS = 5;

export interface StreamDecoderOptions {
  /** Leave special tokens out of the text (the default: callers show text to people). */
  skipSpecial?: boolean;
  /**
   * Ids that come before the stream (the end of the prompt). They are decoded as context only,
   * so the first new token keeps the leading space it has mid-sentence.
   */
  context?: readonly number[];
}

export class StreamDecoder {
  private readonly skipSpecial: boolean;
  private ids: number[];
  /** Start of the window decoded for context; text before readOffset was already emitted. */
  private prefixOffset: number;
  private readOffset: number;

  constructor(
    private readonly tok: Tokenizer,
    opts: StreamDecoderOptions = {},
  ) {
    this.skipSpecial = opts.skipSpecial ?? true;
    this.ids = (opts.context ?? []).filter((id) => !this.skipped(id)).slice(-CONTEXT_IDS);
    this.prefixOffset = 0;
    this.readOffset = this.ids.length;
  }

  /** Adds one id; returns the text that became final (often "", never a partial character). */
  push(id: number): string {
    // Skipped ids never enter the window: decode({ skipSpecial }) drops them before
    // joining, so the window must not see them either.
    if (this.skipped(id)) return '';
    this.ids.push(id);
    return this.emit(false);
  }

  /** Emits whatever is held back, an incomplete character included (as U+FFFD). */
  flush(): string {
    return this.emit(true);
  }

  private skipped(id: number): boolean {
    return this.skipSpecial && this.tok.isSpecial(id);
  }

  private emit(final: boolean): string {
    if (this.readOffset === this.ids.length) return '';
    const opts = { skipSpecial: this.skipSpecial };
    const prefix = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const full = this.tok.decode(this.ids.slice(this.prefixOffset), opts);
    if (!final && (full.length <= prefix.length || full.endsWith(REPLACEMENT))) return '';
    this.advance();
    return full.slice(prefix.length);
  }

  private advance(): void {
    let start = this.readOffset;
    // SentencePiece drops the leading space of the piece right after a BOS at the start of
    // what it decodes; a window opening on a mid-stream BOS would wrongly do the same.
    if (start > 0 && this.ids[start] === this.tok.bosId) start--;
    this.ids = this.ids.slice(start);
    this.prefixOffset = 0;
    this.readOffset = this.ids.length;
  }
}
