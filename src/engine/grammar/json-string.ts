// The body of a JSON string as a counter automaton over bytes: characters as well-formed UTF-8
// (no overlong forms, no surrogates, nothing past U+10FFFF), the escapes of RFC 8259 with
// \uXXXX outside the surrogate range, no raw control characters, and the closing quote once at
// least `min` characters were written. The state is one integer: characters so far × 16 plus
// where inside a character or escape the automaton is. Characters are counted as code points,
// as JSON Schema's minLength/maxLength are.

import type { StringSpec } from './grammar.js';

/** stringStep's answer for the closing quote. */
export const CLOSED = -2;
export const REJECTED = -1;

const BOUNDARY = 0;
const AFTER_BACKSLASH = 1;
const HEX1 = 2; // \u, first hex digit next
const HEX2 = 3;
const HEX3 = 4;
const HEX4 = 5;
const HEX2_LOW = 6; // after \uD: 0-7 only (no surrogates)
const CONT1 = 7; // one continuation byte to go
const CONT2 = 8;
const CONT3 = 9;
const E0_SECOND = 10; // A0-BF, then one more
const ED_SECOND = 11; // 80-9F, then one more
const F0_SECOND = 12; // 90-BF, then two more
const F4_SECOND = 13; // 80-8F, then two more

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/** The state after byte `b`, CLOSED for the closing quote, or REJECTED. */
export function stringStep(spec: StringSpec, state: number, b: number): number {
  const sub = state & 15;
  const count = state >>> 4;
  switch (sub) {
    case BOUNDARY: {
      if (b === 0x22) return count >= spec.min ? CLOSED : REJECTED;
      if (count >= spec.max || b < 0x20) return REJECTED;
      // An unbounded string only needs to know whether it reached min: the count saturates
      // there, so its state stops changing and the mask cache sees one state, not one per length.
      const next = (spec.max === Infinity ? Math.min(count + 1, spec.min) : count + 1) << 4;
      if (b === 0x5c) return next | AFTER_BACKSLASH;
      if (b < 0x80) return next;
      if (b >= 0xc2 && b <= 0xdf) return next | CONT1;
      if (b === 0xe0) return next | E0_SECOND;
      if (b === 0xed) return next | ED_SECOND;
      if (b >= 0xe1 && b <= 0xef) return next | CONT2;
      if (b === 0xf0) return next | F0_SECOND;
      if (b >= 0xf1 && b <= 0xf3) return next | CONT3;
      if (b === 0xf4) return next | F4_SECOND;
      return REJECTED;
    }
    case AFTER_BACKSLASH:
      if (b === 0x75) return (count << 4) | HEX1;
      // " \ / b f n r t
      return b === 0x22 || b === 0x5c || b === 0x2f || b === 0x62 || b === 0x66 || b === 0x6e || b === 0x72 || b === 0x74
        ? count << 4
        : REJECTED;
    case HEX1:
      if (b === 0x64 || b === 0x44) return (count << 4) | HEX2_LOW;
      return isHex(b) ? (count << 4) | HEX2 : REJECTED;
    case HEX2_LOW:
      return b >= 0x30 && b <= 0x37 ? (count << 4) | HEX3 : REJECTED;
    case HEX2:
    case HEX3:
      return isHex(b) ? (count << 4) | (sub + 1) : REJECTED;
    case HEX4:
      return isHex(b) ? count << 4 : REJECTED;
    case CONT1:
    case CONT2:
    case CONT3:
      return b >= 0x80 && b <= 0xbf ? (count << 4) | (sub === CONT1 ? BOUNDARY : sub - 1) : REJECTED;
    case E0_SECOND:
      return b >= 0xa0 && b <= 0xbf ? (count << 4) | CONT1 : REJECTED;
    case ED_SECOND:
      return b >= 0x80 && b <= 0x9f ? (count << 4) | CONT1 : REJECTED;
    case F0_SECOND:
      return b >= 0x90 && b <= 0xbf ? (count << 4) | CONT2 : REJECTED;
    case F4_SECOND:
      return b >= 0x80 && b <= 0x8f ? (count << 4) | CONT2 : REJECTED;
    default:
      return REJECTED;
  }
}

/** Whether the state sits between characters (where a plain-text token may start). */
export function atBoundary(state: number): boolean {
  return (state & 15) === BOUNDARY;
}

export function charsWritten(state: number): number {
  return state >>> 4;
}

/**
 * How many characters a token adds when every byte of it is plain string text (whole UTF-8
 * characters, no quote, no backslash, no control character); -1 when it is not plain. Tokens
 * that are plain are accepted inside any string with room for that many characters, whatever
 * else the grammar says: the mask takes them as one precomputed set.
 */
export function plainChars(bytes: Uint8Array): number {
  if (bytes.length === 0) return -1;
  const open: StringSpec = { min: 0, max: Infinity };
  let state = 0;
  let chars = 0;
  for (const b of bytes) {
    if (b === 0x5c || b === 0x22) return -1;
    if (atBoundary(state)) chars++;
    state = stringStep(open, state & 15, b);
    if (state < 0) return -1;
  }
  return atBoundary(state) ? chars : -1;
}
