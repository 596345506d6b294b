// A context-free grammar over bytes, in the flat form the automaton walks (llama.cpp's grammar
// layout): every alternative of every rule is a run of elements in one array, closed by END, so
// a parse position is one integer. Elements are byte classes, rule references, and one built-in
// terminal: the body of a JSON string (its characters, escapes and closing quote), kept as a
// small counter automaton instead of rules so that maxLength costs one integer, not N rules,
// and so the token mask can take every plain-text token at once (mask.ts).

export const END = 0;
export const BYTES = 1;
export const RULE = 2;
export const STRING = 3;

/** One element as the builder takes it. */
export type Element =
  | { bytes: ByteClass }
  | { rule: number }
  | { string: StringSpec };

/** A string body: between min and max characters (code points); max Infinity = unbounded. */
export interface StringSpec {
  min: number;
  max: number;
}

/** 256 bits: which bytes the class accepts. */
export type ByteClass = Uint32Array;

export function byteClass(ranges: ReadonlyArray<readonly [number, number]>): ByteClass {
  const c = new Uint32Array(8);
  for (const [lo, hi] of ranges) for (let b = lo; b <= hi; b++) c[b >>> 5]! |= 1 << (b & 31);
  return c;
}

export function classHas(c: ByteClass, b: number): boolean {
  return (c[b >>> 5]! & (1 << (b & 31))) !== 0;
}

/** The finished grammar: flat elements, the start position of each rule's alternatives, and the root rule. */
export interface Grammar {
  readonly kind: Uint8Array;
  readonly arg: Int32Array;
  readonly classes: readonly ByteClass[];
  readonly strings: readonly StringSpec[];
  /** rules[r]: the element index where each alternative of rule r starts. */
  readonly rules: ReadonlyArray<readonly number[]>;
  readonly root: number;
}

export class GrammarBuilder {
  private readonly defs: Array<Element[][] | null> = [];

  /** A rule id to define later (forward and recursive references). */
  reserve(): number {
    this.defs.push(null);
    return this.defs.length - 1;
  }

  define(id: number, alternatives: Element[][]): number {
    if (this.defs[id] !== null) throw new Error(`rule ${id} defined twice`);
    this.defs[id] = alternatives;
    return id;
  }

  rule(alternatives: Element[][]): number {
    return this.define(this.reserve(), alternatives);
  }

  build(root: number): Grammar {
    const kind: number[] = [];
    const arg: number[] = [];
    const classes: ByteClass[] = [];
    const classIds = new Map<string, number>();
    const strings: StringSpec[] = [];
    const rules: number[][] = [];
    for (const [id, alts] of this.defs.entries()) {
      if (alts === null) throw new Error(`rule ${id} was reserved but never defined`);
      const starts: number[] = [];
      for (const alt of alts) {
        starts.push(kind.length);
        for (const e of alt) {
          if ('bytes' in e) {
            const key = e.bytes.join(',');
            let c = classIds.get(key);
            if (c === undefined) {
              c = classes.push(e.bytes) - 1;
              classIds.set(key, c);
            }
            kind.push(BYTES);
            arg.push(c);
          } else if ('rule' in e) {
            kind.push(RULE);
            arg.push(e.rule);
          } else {
            kind.push(STRING);
            arg.push(strings.push(e.string) - 1);
          }
        }
        kind.push(END);
        arg.push(0);
      }
      rules.push(starts);
    }
    return { kind: Uint8Array.from(kind), arg: Int32Array.from(arg), classes, strings, rules, root };
  }
}

/** The bytes of `text` (UTF-8) as a run of one-byte classes. */
export function literal(text: string): Element[] {
  return [...new TextEncoder().encode(text)].map((b) => ({ bytes: byteClass([[b, b]]) }));
}

export function ref(rule: number): Element {
  return { rule };
}
