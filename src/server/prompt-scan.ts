// Measures the prompt inside a JSON request body while the body arrives, without parsing it:
// how many UTF-8 bytes of prompt text (and how many token ids) it holds. With the token-count
// bound (no token stands for more than N bytes of text), that refuses a 20 MB paste that cannot
// fit the context before the body ever becomes a string: JSON.parse of it would hold the HTTP
// thread for hundreds of milliseconds and leave tens of MB of strings on its heap.
//
// It is a scanner, not a parser: it follows the nesting of objects and arrays and the keys on
// the way, so it knows where each string sits ('messages[].content'), and counts the strings at
// the paths a route names. Inside a string it jumps from quote to backslash with Buffer.indexOf
// (native speed), so a long paste costs little more than receiving it. What it counts is what
// JSON.parse would give (escapes decoded), so for a well-formed body it is exact; a body it finds
// malformed (unbalanced brackets) stops the count and is left to the JSON parser to refuse.

/** Where a route's prompt sits in its body. Paths like 'messages[].content'; '[]' is any element. */
export interface PromptFields {
  /** The request field a refusal names ('messages', 'prompt', 'input'). */
  param: string;
  /** Strings that are prompt text. */
  text: readonly string[];
  /** Numbers that are token ids (one token each). */
  tokenIds?: readonly string[];
}

/** One open object or array; `key` is the object's current key (null: none yet, or too long to matter). */
interface Frame {
  array: boolean;
  key: string | null;
  expectKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Keys longer than this name no field of ours: kept as "no key" rather than buffered. */
const MAX_KEY_BYTES = 64;

const VALUE = 0; // between tokens
const STRING = 1; // inside a string
const ESCAPE = 2; // after a backslash in a string
const UNICODE = 3; // inside the 4 hex digits of \uXXXX
const LITERAL = 4; // inside a number, true, false or null

/** 'messages[].content' → ['messages', '[]', 'content']. */
function segments(path: string): string[] {
  return path.split(/(?=\[\])|\./);
}

/** indexOf's answer, with "not in this chunk" as the chunk's end. */
function found(at: number, end: number): number {
  return at === -1 ? end : at;
}

/** UTF-8 bytes of the UTF-16 code unit \uXXXX stands for; a surrogate counts 2 (a pair is 4, a lone one 3 as U+FFFD). */
function utf8Length(unit: number): number {
  if (unit < 0x80) return 1;
  if (unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff)) return 2;
  return 3;
}

export class PromptScan {
  /** UTF-8 bytes of prompt text so far. */
  textBytes = 0;
  /** Token ids so far. */
  tokenIds = 0;
  /** The brackets did not match: the counts stopped growing where that was seen. */
  malformed = false;

  private readonly textPaths: string[][];
  private readonly idPaths: string[][];
  private readonly stack: Frame[] = [];
  private state = VALUE;
  /** The current string is prompt text. */
  private counting = false;
  /** Raw bytes of the key being read (escapes undecoded); null: not reading a key, or it is too long. */
  private key: number[] | null = null;
  private readingKey = false;
  private hexLeft = 0;
  private unit = 0;

  constructor(fields: PromptFields) {
    this.textPaths = fields.text.map(segments);
    this.idPaths = (fields.tokenIds ?? []).map(segments);
  }

  write(chunk: Buffer): void {
    const n = chunk.length;
    // Positions of the next quote and backslash in this chunk, found once and reused.
    let quote = -1;
    let backslash = -1;
    let i = 0;
    while (i < n && !this.malformed) {
      switch (this.state) {
        case STRING: {
          if (quote < i) quote = found(chunk.indexOf(QUOTE, i), n);
          if (backslash < i) backslash = found(chunk.indexOf(BACKSLASH, i), n);
          const end = Math.min(quote, backslash);
          this.take(chunk, i, end);
          if (end === n) return;
          if (end === quote) this.endString();
          else {
            this.state = ESCAPE;
            this.keyByte(BACKSLASH);
          }
          i = end + 1;
          break;
        }
        case ESCAPE: {
          const c = chunk[i++]!;
          this.keyByte(c);
          if (c === 0x75 /* u */) {
            this.state = UNICODE;
            this.hexLeft = 4;
            this.unit = 0;
          } else {
            this.count(1);
            this.state = STRING;
          }
          break;
        }
        case UNICODE: {
          const c = chunk[i++]!;
          this.keyByte(c);
          this.unit = this.unit * 16 + (Number.parseInt(String.fromCharCode(c), 16) || 0);
          if (--this.hexLeft === 0) {
            this.count(utf8Length(this.unit));
            this.state = STRING;
          }
          break;
        }
        case LITERAL: {
          const c = chunk[i]!;
          if (c === 0x2c || c === 0x5d || c === 0x7d || c <= 0x20) this.state = VALUE;
          else i++;
          break;
        }
        default:
          this.structural(chunk[i++]!);
      }
    }
  }

  private structural(c: number): void {
    const top = this.stack.at(-1);
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        this.stack.push({ array: c === 0x5b, key: null, expectKey: c === 0x7b });
        return;
      case 0x7d: // }
      case 0x5d: // ]
        if (top === undefined || top.array !== (c === 0x5d)) this.malformed = true;
        else this.stack.pop();
        return;
      case 0x2c: // ,
        if (top !== undefined && !top.array) top.expectKey = true;
        return;
      case 0x3a: // :
        if (top !== undefined) top.expectKey = false;
        return;
      case QUOTE:
        this.state = STRING;
        this.readingKey = top !== undefined && !top.array && top.expectKey;
        this.key = this.readingKey ? [] : null;
        this.counting = !this.readingKey && this.at(this.textPaths);
        return;
      default:
        if (c <= 0x20) return;
        this.state = LITERAL;
        if ((c === 0x2d || (c >= 0x30 && c <= 0x39)) && this.at(this.idPaths)) this.tokenIds++;
    }
  }

  /** Whether the value starting now sits at one of `paths`. */
  private at(paths: readonly string[][]): boolean {
    const { stack } = this;
    return paths.some((p) => p.length === stack.length && p.every((s, d) => s === (stack[d]!.array ? '[]' : stack[d]!.key)));
  }

  private take(chunk: Buffer, start: number, end: number): void {
    if (this.counting) this.textBytes += end - start;
    else if (this.key !== null) {
      if (this.key.length + (end - start) > MAX_KEY_BYTES) this.key = null;
      else for (let j = start; j < end; j++) this.key.push(chunk[j]!);
    }
  }

  private keyByte(c: number): void {
    if (this.key === null) return;
    if (this.key.length >= MAX_KEY_BYTES) this.key = null;
    else this.key.push(c);
  }

  private count(bytes: number): void {
    if (this.counting) this.textBytes += bytes;
  }

  private endString(): void {
    this.state = VALUE;
    this.counting = false;
    if (!this.readingKey) return;
    const top = this.stack.at(-1)!;
    top.key = this.key === null ? null : decodeKey(Buffer.from(this.key).toString('utf8'));
    this.key = null;
    this.readingKey = false;
  }
}

/** A key as JSON.parse reads it: escapes decoded ("mess\u0061ges" is messages). */
function decodeKey(raw: string): string | null {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return null;
  }
}
