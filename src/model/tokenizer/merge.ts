// The merge loop shared by SentencePiece BPE and byte-level BPE: repeatedly join the best
// adjacent pair of symbols until no pair qualifies. The two families differ only in what
// "best" means (highest piece score vs lowest merge rank), which the caller supplies.
// A heap over candidate pairs keeps long inputs (a page with no spaces) near n log n.

/**
 * Priority of merging `left` and `right`: lower wins, `undefined` means the pair may not merge.
 * Ties go to the leftmost pair, as in llama.cpp's llm_tokenizer_spm/bpe sessions.
 */
export type PairPriority = (left: string, right: string) => number | undefined;

interface Candidate {
  priority: number;
  left: number;
  right: number;
  size: number; // combined text length when queued; a different length means the entry is stale
}

export function mergeSymbols(symbols: readonly string[], priorityOf: PairPriority): string[] {
  const n = symbols.length;
  if (n < 2) return symbols.slice();
  const text = symbols.slice();
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new CandidateHeap();
  const consider = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const priority = priorityOf(text[left]!, text[right]!);
    if (priority === undefined) return;
    heap.push({ priority, left, right, size: text[left]!.length + text[right]!.length });
  };
  for (let i = 0; i + 1 < n; i++) consider(i, i + 1);

  for (let c = heap.pop(); c !== undefined; c = heap.pop()) {
    const { left, right } = c;
    if (next[left] !== right || text[left]!.length + text[right]!.length !== c.size) continue;
    text[left] = text[left]! + text[right]!;
    text[right] = '';
    const after = next[right]!;
    next[right] = -2; // gone: no queued pair may start from it
    next[left] = after;
    if (after >= 0) prev[after] = left;
    consider(prev[left]!, left);
    consider(left, after);
  }

  const out: string[] = [];
  for (let i = 0; i >= 0; i = next[i]!) out.push(text[i]!);
  return out;
}

class CandidateHeap {
  private readonly items: Candidate[] = [];

  push(c: Candidate): void {
    const a = this.items;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < a.length && before(a[l]!, a[best]!)) best = l;
        if (r < a.length && before(a[r]!, a[best]!)) best = r;
        if (best === i) break;
        [a[i], a[best]] = [a[best]!, a[i]!];
        i = best;
      }
    }
    return top;
  }
}

function before(x: Candidate, y: Candidate): boolean {
  return x.priority < y.priority || (x.priority === y.priority && x.left < y.left);
}
