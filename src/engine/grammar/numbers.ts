// JSON numbers as grammar alternatives. Integers with bounds become digit-class patterns that
// spell exactly the decimal numbers in the range (llama.cpp's json-schema-to-grammar does the
// same): [lo, hi] splits by length, then by the first digit where lo and hi differ. Lengths are
// capped at 15 digits (below 2^53), so every number the grammar writes is exact in JavaScript
// and generation cannot run on in digits forever.

import { byteClass, type Element } from './grammar.js';

export const MAX_INT_DIGITS = 15;
export const MAX_SAFE_MAGNITUDE = 10 ** MAX_INT_DIGITS - 1;

/** One digit position: the digits it takes, inclusive. */
type Pattern = Array<readonly [number, number]>;

function anyDigits(n: number): Pattern {
  return Array.from({ length: n }, () => [0, 9] as const);
}

/** Fixed-length digit strings between lo and hi (same length, leading zeros allowed). */
function sameLength(lo: string, hi: string): Pattern[] {
  if (lo.length === 0) return [[]];
  const a = Number(lo[0]), b = Number(hi[0]);
  const n = lo.length - 1;
  if (a === b) return sameLength(lo.slice(1), hi.slice(1)).map((p) => [[a, a] as const, ...p]);
  if (/^0*$/.test(lo.slice(1)) && /^9*$/.test(hi.slice(1))) return [[[a, b] as const, ...anyDigits(n)]];
  const out: Pattern[] = sameLength(lo.slice(1), '9'.repeat(n)).map((p) => [[a, a] as const, ...p]);
  if (a + 1 <= b - 1) out.push([[a + 1, b - 1] as const, ...anyDigits(n)]);
  out.push(...sameLength('0'.repeat(n), hi.slice(1)).map((p) => [[b, b] as const, ...p]));
  return out;
}

/** Decimal spellings (no leading zeros) of the integers in [lo, hi], 0 ≤ lo ≤ hi. */
function unsignedRange(lo: number, hi: number): Pattern[] {
  const a = String(lo), b = String(hi);
  const out: Pattern[] = [];
  for (let len = a.length; len <= b.length; len++) {
    const from = len === a.length ? a : '1' + '0'.repeat(len - 1);
    const to = len === b.length ? b : '9'.repeat(len);
    out.push(...sameLength(from, to));
  }
  return out;
}

function toElements(p: Pattern): Element[] {
  return p.map(([x, y]) => ({ bytes: byteClass([[0x30 + x, 0x30 + y]]) }));
}

const MINUS: Element = { bytes: byteClass([[0x2d, 0x2d]]) };

/** Alternatives spelling every integer in [lo, hi] (both safe integers, lo ≤ hi), and nothing else. */
export function integerRange(lo: number, hi: number): Element[][] {
  const alts: Element[][] = [];
  if (hi >= 0) alts.push(...unsignedRange(Math.max(lo, 0), hi).map(toElements));
  if (lo < 0) alts.push(...unsignedRange(-Math.min(hi, -1), -lo).map((p) => [MINUS, ...toElements(p)]));
  return alts;
}

/** The integer bounds a schema's minimum/maximum/exclusive* give, clamped to what the grammar writes; null when empty. */
export function integerBounds(b: NumericBounds): { lo: number; hi: number } | null {
  let lo = -MAX_SAFE_MAGNITUDE, hi = MAX_SAFE_MAGNITUDE;
  if (b.minimum !== undefined) lo = Math.max(lo, Math.ceil(b.minimum));
  if (b.exclusiveMinimum !== undefined) lo = Math.max(lo, Math.floor(b.exclusiveMinimum) + 1);
  if (b.maximum !== undefined) hi = Math.min(hi, Math.floor(b.maximum));
  if (b.exclusiveMaximum !== undefined) hi = Math.min(hi, Math.ceil(b.exclusiveMaximum) - 1);
  return lo <= hi ? { lo, hi } : null;
}

export interface NumericBounds {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

export function hasBounds(b: NumericBounds): boolean {
  return b.minimum !== undefined || b.maximum !== undefined || b.exclusiveMinimum !== undefined || b.exclusiveMaximum !== undefined;
}
