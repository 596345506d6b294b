// A tiny JSON scanner over the raw bytes of a request body, for reading a routing key out of it
// (route-key.ts): it walks objects and arrays key by key, decodes only the values asked for and
// skips the rest, respecting strings, so a key name inside a string value never matches. It is
// the TypeScript twin of the scanner in deploy/haproxy/pensieve-route.lua and must stay byte for
// byte the same: HAProxy hands that one a body cut at its buffer size, so both read a body that
// may end anywhere (JsonEnd) and keep what they found before the end. Strings decode to bytes
// (escapes resolved to UTF-8, a lone surrogate to U+FFFD as JavaScript's encoder writes it), so
// the two agree on every body, even one that is not valid UTF-8.

/** The body ended inside the value being read (HAProxy passed on only its first buffer). */
export class JsonEnd extends Error {}
/** The body is not JSON there. */
export class JsonMalformed extends Error {}

export type JsonValue =
  | { kind: 'string'; bytes: Buffer }
  | { kind: 'object'; entries: Map<string, JsonValue> }
  | { kind: 'array'; items: JsonValue[] }
  | { kind: 'scalar' };

/** Nesting past this is refused rather than recursed into (the Lua side has a C stack too). */
const MAX_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };
const REPLACEMENT = [0xef, 0xbf, 0xbd];

function utf8(cp: number, out: number[]): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/** Where a string may stop early: at its first newline byte, or once it has `maxBytes` bytes. */
export interface StringLimit {
  maxBytes: number;
  stopAtNewline: boolean;
}

export class JsonScanner {
  pos = 0;

  constructor(readonly buf: Buffer) {}

  /** Skips white space and returns the next byte without taking it. */
  peek(): number {
    const b = this.buf;
    while (this.pos < b.length && (b[this.pos] === 0x20 || b[this.pos] === 0x09 || b[this.pos] === 0x0a || b[this.pos] === 0x0d)) this.pos++;
    if (this.pos >= b.length) throw new JsonEnd();
    return b[this.pos]!;
  }

  private expect(byte: number): void {
    if (this.peek() !== byte) throw new JsonMalformed(`expected '${String.fromCharCode(byte)}' at ${this.pos}`);
    this.pos++;
  }

  private hex4(): number {
    if (this.pos + 4 > this.buf.length) throw new JsonEnd();
    const text = this.buf.toString('latin1', this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(text)) throw new JsonMalformed(`bad \\u escape at ${this.pos}`);
    this.pos += 4;
    return parseInt(text, 16);
  }

  /**
   * Decodes the string at the cursor to bytes. With a limit, returns as soon as it is met (the
   * rest of the string, possibly cut off by the body's end, is left unread): `complete` says
   * whether the string was read to its closing quote.
   */
  string(limit?: StringLimit): { bytes: Buffer; complete: boolean } {
    this.expect(QUOTE);
    const b = this.buf;
    const out: number[] = [];
    const done = () => limit !== undefined && (out.length >= limit.maxBytes || (limit.stopAtNewline && out.includes(0x0a)));
    for (;;) {
      if (done()) return { bytes: cut(out, limit!), complete: false };
      if (this.pos >= b.length) throw new JsonEnd();
      const c = b[this.pos++]!;
      if (c === QUOTE) return { bytes: limit === undefined ? Buffer.from(out) : cut(out, limit), complete: true };
      if (c !== BACKSLASH) {
        out.push(c);
        continue;
      }
      if (this.pos >= b.length) throw new JsonEnd();
      const e = b[this.pos++]!;
      if (e !== 0x75) {
        const byte = ESCAPES[e];
        if (byte === undefined) throw new JsonMalformed(`bad escape at ${this.pos - 1}`);
        out.push(byte);
        continue;
      }
      const cp = this.hex4();
      if (cp >= 0xd800 && cp < 0xdc00) {
        // A high surrogate pairs with a following \u low surrogate; alone it is U+FFFD.
        if (this.pos < b.length && b[this.pos] === BACKSLASH) {
          if (this.pos + 1 >= b.length) throw new JsonEnd();
          if (b[this.pos + 1] === 0x75) {
            const save = this.pos;
            this.pos += 2;
            const low = this.hex4();
            if (low >= 0xdc00 && low < 0xe000) {
              utf8(0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00), out);
              continue;
            }
            this.pos = save;
          }
        }
        out.push(...REPLACEMENT);
      } else if (cp >= 0xdc00 && cp < 0xe000) {
        out.push(...REPLACEMENT);
      } else {
        utf8(cp, out);
      }
    }
  }

  /** Steps over the value at the cursor without decoding it (strings respected, nesting counted). */
  skipValue(): void {
    const b = this.buf;
    const first = this.peek();
    if (first === QUOTE) {
      this.skipString();
      return;
    }
    if (first !== 0x7b && first !== 0x5b) {
      // A number or a literal: up to the next delimiter.
      while (this.pos < b.length && !isDelimiter(b[this.pos]!)) this.pos++;
      if (this.pos >= b.length) throw new JsonEnd();
      return;
    }
    let depth = 0;
    for (;;) {
      if (this.pos >= b.length) throw new JsonEnd();
      const c = b[this.pos]!;
      if (c === QUOTE) {
        this.skipString();
        continue;
      }
      this.pos++;
      if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return;
      }
    }
  }

  private skipString(): void {
    const b = this.buf;
    this.pos++; // the opening quote
    for (;;) {
      if (this.pos >= b.length) throw new JsonEnd();
      const c = b[this.pos++]!;
      if (c === QUOTE) return;
      if (c === BACKSLASH) this.pos++;
    }
  }

  /** Decodes the value at the cursor (only for small values: one message of a chat). */
  value(depth = 0): JsonValue {
    if (depth > MAX_DEPTH) throw new JsonMalformed('nested too deep');
    const c = this.peek();
    if (c === QUOTE) return { kind: 'string', bytes: this.string().bytes };
    if (c === 0x7b) {
      const entries = new Map<string, JsonValue>();
      const members = this.object();
      for (let key = members.next(); key !== null; key = members.next()) {
        const v = this.value(depth + 1);
        // The first of duplicate keys wins, as in the Lua twin.
        if (!entries.has(key)) entries.set(key, v);
      }
      return { kind: 'object', entries };
    }
    if (c === 0x5b) {
      const items: JsonValue[] = [];
      const elements = this.array();
      while (elements.next()) items.push(this.value(depth + 1));
      return { kind: 'array', items };
    }
    this.skipValue();
    return { kind: 'scalar' };
  }

  /** Opens the object at the cursor; next() gives each key (as latin1, byte for byte) or null at '}'. */
  object(): { next(): string | null } {
    this.expect(0x7b);
    let first = true;
    return {
      next: () => {
        const c = this.peek();
        if (c === 0x7d) {
          this.pos++;
          return null;
        }
        if (!first) this.expect(0x2c);
        first = false;
        const key = this.string().bytes.toString('latin1');
        this.expect(0x3a);
        return key;
      },
    };
  }

  /** Opens the array at the cursor; next() is true while an element follows (the cursor is on it). */
  array(): { next(): boolean } {
    this.expect(0x5b);
    let first = true;
    return {
      next: () => {
        const c = this.peek();
        if (c === 0x5d) {
          this.pos++;
          return false;
        }
        if (!first) this.expect(0x2c);
        first = false;
        return true;
      },
    };
  }
}

function isDelimiter(c: number): boolean {
  return c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** A limited string's bytes: up to (not including) its first newline, at most maxBytes. */
function cut(out: number[], limit: StringLimit): Buffer {
  let end = Math.min(out.length, limit.maxBytes);
  if (limit.stopAtNewline) {
    const nl = out.indexOf(0x0a);
    if (nl >= 0 && nl < end) end = nl;
  }
  return Buffer.from(out.slice(0, end));
}
