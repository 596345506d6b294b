// The vocabulary as the token mask needs it, built once per tokenizer: each token's bytes (what
// it adds to the output text), a byte trie of the tokens in preorder (a node's subtree is the
// index range [node, end[node])), and the tokens that are plain string text grouped by how many
// characters they hold. Tokens with no bytes of their own (specials, control tokens, bytes a
// tokenizer cannot tell) are never in the mask; end-of-sequence is decided apart.

import type { Tokenizer } from '../../model/tokenizer/types.js';
import { plainChars } from './json-string.js';

/** A byte trie in preorder: node 0 is the root. */
export interface ByteTrie {
  /** The byte on the edge into each node (unused for the root). */
  readonly byte: Uint8Array;
  /** One past the last node of each node's subtree; its first child is node + 1. */
  readonly end: Int32Array;
  /** Tokens ending at node n: tokenIds[tokenStart[n] .. tokenStart[n + 1]). */
  readonly tokenStart: Int32Array;
  readonly tokenIds: Int32Array;
}

export interface Vocab {
  readonly size: number;
  readonly words: number;
  /** Bytes each token adds to the text; null: never allowed by a grammar. */
  readonly bytes: ReadonlyArray<Uint8Array | null>;
  /** Every token with bytes. */
  readonly trie: ByteTrie;
  /** Tokens that are not plain string text (quotes, escapes, control bytes, partial characters). */
  readonly specialTrie: ByteTrie;
  /** plainUpTo(k): the bitset of plain-text tokens of 1..k characters. */
  plainUpTo(k: number): Uint32Array;
  /** The most characters a plain token holds. */
  readonly maxPlain: number;
}

const encoder = new TextEncoder();

/** What token `id` adds to the text, or null when it adds nothing a grammar can use. */
export function tokenBytes(tokenizer: Tokenizer, id: number, anchor: readonly number[] = anchorIds(tokenizer)): Uint8Array | null {
  if (tokenizer.isSpecial(id)) return null;
  const own = tokenizer.tokenBytes?.(id);
  if (own !== undefined) return own === null || own.length === 0 ? null : own;
  // Decoded after an anchor token, as the stream decoder decodes with context (alone, a
  // SentencePiece-style decoder drops the piece's leading space). A token that decodes to a
  // replacement character holds part of a character this tokenizer will not tell: left out.
  const before = tokenizer.decode(anchor);
  const text = tokenizer.decode([...anchor, id]);
  if (!text.startsWith(before) || text.length === before.length || text.includes('\uFFFD')) return null;
  return encoder.encode(text.slice(before.length));
}

/** A plain token to decode others after. */
function anchorIds(tokenizer: Tokenizer): number[] {
  return tokenizer.encode('a', { addBos: false, parseSpecial: false }).slice(-1);
}

export function buildTrie(tokens: ReadonlyArray<{ id: number; bytes: Uint8Array }>): ByteTrie {
  const sorted = [...tokens].sort((a, b) => compareBytes(a.bytes, b.bytes) || a.id - b.id);
  const byte: number[] = [0];
  const end: number[] = [0];
  const tokenAt: number[][] = [[]];
  // path[d]: the node at depth d on the current branch.
  const path: number[] = [0];
  let prev: Uint8Array = new Uint8Array(0);
  for (const { id, bytes } of sorted) {
    let common = 0;
    while (common < prev.length && common < bytes.length && prev[common] === bytes[common]) common++;
    // Close the nodes of the previous token below the shared prefix.
    for (let d = path.length - 1; d > common; d--) end[path[d]!] = byte.length;
    path.length = common + 1;
    for (let d = common; d < bytes.length; d++) {
      path.push(byte.length);
      byte.push(bytes[d]!);
      end.push(0);
      tokenAt.push([]);
    }
    tokenAt[path[bytes.length]!]!.push(id);
    prev = bytes;
  }
  for (let d = path.length - 1; d >= 0; d--) end[path[d]!] = byte.length;
  const tokenStart = new Int32Array(byte.length + 1);
  for (let n = 0; n < byte.length; n++) tokenStart[n + 1] = tokenStart[n]! + tokenAt[n]!.length;
  return { byte: Uint8Array.from(byte), end: Int32Array.from(end), tokenStart, tokenIds: Int32Array.from(tokenAt.flat()) };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function buildVocab(tokenizer: Tokenizer, size = tokenizer.vocabSize): Vocab {
  const bytes: Array<Uint8Array | null> = [];
  const all: Array<{ id: number; bytes: Uint8Array }> = [];
  const special: Array<{ id: number; bytes: Uint8Array }> = [];
  const plain = new Int32Array(size).fill(-1);
  let maxPlain = 0;
  const anchor = anchorIds(tokenizer);
  for (let id = 0; id < size; id++) {
    const b = id < tokenizer.vocabSize ? tokenBytes(tokenizer, id, anchor) : null;
    bytes.push(b);
    if (b === null) continue;
    all.push({ id, bytes: b });
    const chars = plainChars(b);
    plain[id] = chars;
    if (chars < 0) special.push({ id, bytes: b });
    else maxPlain = Math.max(maxPlain, chars);
  }
  const words = Math.ceil(size / 32);
  // Cumulative sets, all built now (k-1's set plus the tokens of exactly k characters): ~130
  // sets of 19 KB for Qwen2.5, and no first-use stall inside a string.
  const byChars: number[][] = Array.from({ length: maxPlain + 1 }, () => []);
  for (let id = 0; id < size; id++) if (plain[id]! >= 1) byChars[plain[id]!]!.push(id);
  const upTo: Uint32Array[] = [new Uint32Array(words)];
  for (let k = 1; k <= maxPlain; k++) {
    const set = Uint32Array.from(upTo[k - 1]!);
    for (const id of byChars[k]!) set[id >>> 5]! |= 1 << (id & 31);
    upTo.push(set);
  }
  const plainUpTo = (k: number): Uint32Array => upTo[Math.min(k, maxPlain)]!;
  return { size, words, bytes, trie: buildTrie(all), specialTrie: buildTrie(special), plainUpTo, maxPlain };
}

const vocabs = new WeakMap<Tokenizer, Map<number, Vocab>>();

/** The tokenizer's Vocab over `size` ids (the model's logit rows may be padded past the tokenizer), built on first use. */
export function vocabFor(tokenizer: Tokenizer, size = tokenizer.vocabSize): Vocab {
  let bySize = vocabs.get(tokenizer);
  if (bySize === undefined) vocabs.set(tokenizer, (bySize = new Map()));
  let v = bySize.get(size);
  if (v === undefined) bySize.set(size, (v = buildVocab(tokenizer, size)));
  return v;
}
