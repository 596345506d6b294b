// The index of the one chunk store: which chains (conversation records) hold a chunk,
// by the chunk's key, and when a request last used it. A chunk's key is the salted hash
// of every token up to its end (block-hash.ts), so equal keys mean equal KV whichever API
// or chain produced it, and one key names one whole prefix: a chain holding chunk c's
// key holds the same tokens as the prompt up to chunk c's end.
//
// The last use of a key is what retention value divides by (V = Cost(l) / T): T is the
// idle time of the newest request that used the chunk, so a prefix shared by many
// conversations stays as long as any of them is likely to return.
import type { ConversationState } from './conversation-state.js';

export class ChainIndex {
  private readonly holders = new Map<string, Set<ConversationState>>();
  private readonly keysOf = new Map<ConversationState, string[]>();
  private readonly lastUse = new Map<string, number>();

  /** Re-reads a chain's full-chunk keys after its history changed (or was cleared). */
  update(conv: ConversationState): void {
    this.remove(conv);
    const keys = conv.fullChunkKeys();
    if (keys.length === 0) return;
    this.keysOf.set(conv, keys);
    for (const k of keys) {
      let set = this.holders.get(k);
      if (set === undefined) this.holders.set(k, (set = new Set()));
      set.add(conv);
    }
  }

  remove(conv: ConversationState): void {
    const keys = this.keysOf.get(conv);
    if (keys === undefined) return;
    this.keysOf.delete(conv);
    for (const k of keys) {
      const set = this.holders.get(k)!;
      set.delete(conv);
      if (set.size === 0) this.holders.delete(k);
    }
  }

  /** Chains whose history has this full chunk (in whatever tier, or dropped). */
  chainsWith(key: string): ReadonlySet<ConversationState> {
    return this.holders.get(key) ?? EMPTY;
  }

  /** A request used these chunks at `now`. */
  touch(keys: Iterable<string>, now: number): void {
    for (const k of keys) if ((this.lastUse.get(k) ?? -Infinity) < now) this.lastUse.set(k, now);
  }

  /** Clock time of the newest request that used the chunk, -Infinity if none is known. */
  lastUseOf(key: string): number {
    return this.lastUse.get(key) ?? -Infinity;
  }

  /** Forgets the last use of keys nobody holds any more, once they outnumber `limit`. */
  prune(limit: number, held: (key: string) => boolean): void {
    if (this.lastUse.size <= limit) return;
    for (const k of this.lastUse.keys()) if (!this.holders.has(k) && !held(k)) this.lastUse.delete(k);
  }
}

const EMPTY: ReadonlySet<ConversationState> = new Set();
