// Which tokens the automaton state accepts: the vocabulary's byte trie walked against the
// automaton, a subtree dropped as soon as its first byte is refused (XGrammar's and llama.cpp's
// idea). The one state that accepts most of a 150k vocabulary — inside a string — is not
// walked token by token: every plain-text token with room for its characters is in, as one
// precomputed set, and only the few thousand tokens that hold a quote, an escape, a control
// byte or part of a character are walked. Masks are cached by state (mask-cache.ts).

import { advance, type Stack } from './automaton.js';
import { STRING, type Grammar } from './grammar.js';
import { atBoundary, charsWritten } from './json-string.js';
import type { ByteTrie, Vocab } from './vocab.js';

/** The bitset of tokens (end-of-sequence not included) whose bytes the state accepts. */
export function computeMask(g: Grammar, vocab: Vocab, stacks: readonly Stack[]): Uint32Array {
  const bits = new Uint32Array(vocab.words);
  const live = stacks.filter((s): s is NonNullable<Stack> => s !== null);
  if (live.length === 0) return bits;
  let trie = vocab.trie;
  if (live.every((s) => g.kind[s.pos] === STRING && atBoundary(s.local))) {
    // A plain token fits a stack with room for its characters; the union over stacks is the
    // set with room for the roomiest.
    let room = 0;
    for (const s of live) room = Math.max(room, g.strings[g.arg[s.pos]!]!.max - charsWritten(s.local));
    if (room > 0) bits.set(vocab.plainUpTo(room === Infinity ? vocab.maxPlain : room));
    trie = vocab.specialTrie;
  }
  walk(g, trie, 0, live, bits);
  return bits;
}

function walk(g: Grammar, trie: ByteTrie, node: number, stacks: readonly Stack[], bits: Uint32Array): void {
  const end = trie.end[node]!;
  for (let c = node + 1; c < end; c = trie.end[c]!) {
    const next = advance(g, stacks, trie.byte[c]!);
    if (next.length === 0) continue;
    for (let t = trie.tokenStart[c]!; t < trie.tokenStart[c + 1]!; t++) {
      const id = trie.tokenIds[t]!;
      bits[id >>> 5]! |= 1 << (id & 31);
    }
    if (trie.end[c]! > c + 1) walk(g, trie, c, next, bits);
  }
}

export function hasAny(bits: Uint32Array): boolean {
  for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) return true;
  return false;
}

export function has(bits: Uint32Array, id: number): boolean {
  return (bits[id >>> 5]! & (1 << (id & 31))) !== 0;
}
