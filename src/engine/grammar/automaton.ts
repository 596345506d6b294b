// The pushdown automaton that runs a Grammar over bytes, llama.cpp's way: a state is a set of
// stacks (alternatives still alive), each stack a persistent linked list of parse positions
// whose top is always a terminal (a byte class or a string body) once expanded; a null stack
// means "the value is complete". Stacks share their tails, so advancing by a byte allocates
// only the frames that change. A rule called in tail position does not grow the stack, so
// repetition written as right recursion (items, digits) runs in constant depth.

import { BYTES, END, RULE, STRING, classHas, type Grammar } from './grammar.js';
import { CLOSED, REJECTED, stringStep } from './json-string.js';

export class Frame {
  constructor(
    /** Index of the next element to match in its alternative. */
    readonly pos: number,
    /** The string body's counter state when the element at pos is STRING; else 0. */
    readonly local: number,
    readonly parent: Frame | null,
  ) {}
}

/** A stack; null is the empty stack: the root value is complete and nothing may follow. */
export type Stack = Frame | null;

/**
 * Most stacks a state may hold. Ambiguity in a schema (anyOf branches that agree for a while)
 * keeps several alive, and each costs its share of every step; past this the request fails
 * rather than slow every other sequence in the batch.
 */
export const MAX_STACKS = 1024;

/** Deepest expansion allowed: a grammar that recurses without consuming bytes is a bug, not a hang. */
const MAX_EXPANSION_DEPTH = 10_000;

/** Pushes onto `out` every stack `stack` expands to whose top is a terminal (or null). */
export function expand(g: Grammar, stack: Stack, out: Stack[], depth = 0): void {
  if (depth > MAX_EXPANSION_DEPTH) throw new Error('grammar expansion too deep (left recursion?)');
  while (stack !== null && g.kind[stack.pos] === END) stack = stack.parent;
  if (stack === null) {
    out.push(null);
    return;
  }
  if (g.kind[stack.pos] !== RULE) {
    out.push(stack);
    return;
  }
  // Continue after the reference once the rule is done; in tail position that is the parent.
  const next = stack.pos + 1;
  const cont = g.kind[next] === END ? stack.parent : new Frame(next, 0, stack.parent);
  for (const start of g.rules[g.arg[stack.pos]!]!) expand(g, new Frame(start, 0, cont), out, depth + 1);
}

/** The stacks that survive byte `b`, each expanded to a terminal top. */
export function advance(g: Grammar, stacks: readonly Stack[], b: number): Stack[] {
  const out: Stack[] = [];
  for (const s of stacks) {
    if (s === null) continue;
    const k = g.kind[s.pos]!;
    if (k === BYTES) {
      if (classHas(g.classes[g.arg[s.pos]!]!, b)) expand(g, new Frame(s.pos + 1, 0, s.parent), out);
    } else if (k === STRING) {
      const next = stringStep(g.strings[g.arg[s.pos]!]!, s.local, b);
      if (next === CLOSED) expand(g, new Frame(s.pos + 1, 0, s.parent), out);
      else if (next !== REJECTED) out.push(new Frame(s.pos, next, s.parent));
    }
  }
  if (out.length > MAX_STACKS) throw new Error(`the response format's grammar is too ambiguous here (${out.length} alternatives alive; at most ${MAX_STACKS})`);
  return out;
}

/** The start state: the root rule expanded. */
export function initialStacks(g: Grammar): Stack[] {
  const out: Stack[] = [];
  for (const start of g.rules[g.root]!) expand(g, new Frame(start, 0, null), out);
  return dedupe(out);
}

/** A key that is equal for equal stacks (positions and counters, top to bottom). */
export function stackKey(s: Stack): string {
  let key = '';
  for (let f = s; f !== null; f = f.parent) key += `${f.pos}.${f.local},`;
  return key;
}

/** The state's key: its stacks' keys, sorted (a state is a set). */
export function stateKey(stacks: readonly Stack[]): string {
  return stacks.map(stackKey).sort().join('|');
}

/** Drops duplicate stacks, so ambiguity that reconverges does not multiply work. */
export function dedupe(stacks: readonly Stack[]): Stack[] {
  if (stacks.length < 2) return [...stacks];
  const seen = new Set<string>();
  const out: Stack[] = [];
  for (const s of stacks) {
    const key = stackKey(s);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
  }
  return out;
}

/** The state after `bytes`, or null when some byte is refused. */
export function advanceBytes(g: Grammar, stacks: readonly Stack[], bytes: Uint8Array): Stack[] | null {
  let cur: readonly Stack[] = stacks;
  for (const b of bytes) {
    cur = advance(g, cur, b);
    if (cur.length === 0) return null;
  }
  return dedupe(cur);
}

export function isAccepting(stacks: readonly Stack[]): boolean {
  return stacks.includes(null);
}
