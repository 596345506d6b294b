// Finding special and added tokens written literally in text, before the model's own
// algorithm sees it: "<|im_start|>user" must become [im_start, ...] and not the BPE of
// "<|im_start|>". Both SentencePiece and byte-level BPE use this first step.

export interface LiteralToken {
  id: number;
  content: string;
  /**
   * Matched even when the caller turns special-token parsing off. llama.cpp does this for
   * user-defined (added, non-control) tokens: they are ordinary vocabulary that the model
   * algorithm cannot produce on its own.
   */
  always: boolean;
}

/** A piece of input text: either text for the model algorithm or an already-known id. */
export type Fragment = string | number;

export class LiteralSplitter {
  private readonly withSpecial: RegExp | null;
  private readonly alwaysOnly: RegExp | null;
  private readonly idOf = new Map<string, number>();

  constructor(tokens: readonly LiteralToken[]) {
    const all: LiteralToken[] = [];
    for (const t of tokens) {
      if (t.content.length === 0 || this.idOf.has(t.content)) continue;
      this.idOf.set(t.content, t.id);
      all.push(t);
    }
    this.withSpecial = alternation(all);
    this.alwaysOnly = alternation(all.filter((t) => t.always));
  }

  /** Splits `text` into fragments, leftmost match first and the longest token at a position. */
  split(text: string, parseSpecial: boolean): Fragment[] {
    const re = parseSpecial ? this.withSpecial : this.alwaysOnly;
    if (re === null || text.length === 0) return text.length === 0 ? [] : [text];
    const out: Fragment[] = [];
    let last = 0;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(this.idOf.get(m[0])!);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
}

function alternation(tokens: readonly LiteralToken[]): RegExp | null {
  if (tokens.length === 0) return null;
  // Longest first: JS alternation takes the first alternative that matches at a position.
  const sorted = tokens.map((t) => t.content).sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'gu');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&');
}
