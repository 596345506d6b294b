// Random request bodies for the routing-key tests, written the way no single JSON encoder would:
// random white space, random key order, characters randomly written as \u escapes (astral ones as
// surrogate pairs), lone surrogates, NULs, and text that looks like the keys the scanner looks
// for. Beside each body, the key its leading part should give, computed from JSON.parse — an
// independent reading of the same rules (src/cluster/route-key.ts).

import { hashKey, PROMPT_KEY_BYTES } from '../../src/cluster/route-key.js';
import { routeKeyOf } from '../../src/store/index.js';

export type Rng = () => number;

const PIECES = [
  'a', 'b', 'z', ' ', 'Once upon a time', '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', '\u0000', '\u001f', 'é', '€', '😀', '\ud800', '\udc00',
  '"messages":[', '"role":"user"', '{', '}', '[', ']', ',', ':', '"previous_response_id":"resp_0123456789abcdef0123456789abcdef0123456789abcdef"',
];
const NAMED: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r', '\b': '\\b', '\f': '\\f' };

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

export function randomText(rng: Rng, maxPieces = 8): string {
  let s = '';
  const n = Math.floor(rng() * maxPieces);
  for (let i = 0; i < n; i++) s += pick(rng, PIECES);
  return s;
}

function u(code: number, rng: Rng): string {
  const hex = code.toString(16).padStart(4, '0');
  return `\\u${rng() < 0.5 ? hex : hex.toUpperCase()}`;
}

function ws(rng: Rng): string {
  return rng() < 0.7 ? '' : pick(rng, [' ', '\n', '\t ', '\r\n  ']);
}

export function encodeString(s: string, rng: Rng): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    const ch = s[i]!;
    if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) < 0xe000) {
      // A surrogate pair: raw (UTF-8 of the code point) or as two \u escapes.
      out += rng() < 0.5 ? s.slice(i, i + 2) : u(unit, rng) + u(s.charCodeAt(i + 1), rng);
      i++;
    } else if (unit >= 0xd800 && unit < 0xe000) {
      out += u(unit, rng); // a lone surrogate can only be written escaped
    } else if (NAMED[ch] !== undefined && (unit >= 0x20 || rng() < 0.6)) {
      out += rng() < 0.8 ? NAMED[ch] : u(unit, rng);
    } else if (unit < 0x20 || rng() < 0.15) {
      out += u(unit, rng);
    } else if (ch === '/' && rng() < 0.5) {
      out += '\\/';
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}

/** JSON text of a value, with random white space and escapes; object keys in the order given. */
export function encode(value: unknown, rng: Rng): string {
  if (typeof value === 'string') return encodeString(value, rng);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${ws(rng)}${value.map((v) => encode(v, rng)).join(`${ws(rng)},${ws(rng)}`)}${ws(rng)}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${ws(rng)}${entries.map(([k, v]) => `${encodeString(k, rng)}${ws(rng)}:${ws(rng)}${encode(v, rng)}`).join(`${ws(rng)},${ws(rng)}`)}${ws(rng)}}`;
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

function randomObject(rng: Rng, fields: Record<string, unknown>): Record<string, unknown> {
  const extra: Record<string, unknown> = {
    model: 'stories260K',
    temperature: rng() < 0.5 ? 0 : 0.7,
    stream: rng() < 0.5,
    max_tokens: 12,
    metadata: { note: randomText(rng) },
    tools: [{ type: 'function', function: { name: 'f', description: randomText(rng), parameters: { type: 'object', properties: {} } } }],
    stop: null,
  };
  const all = Object.entries({ ...fields, ...Object.fromEntries(Object.entries(extra).filter(() => rng() < 0.5)) });
  return Object.fromEntries(shuffle(rng, all));
}

const ROLES = ['system', 'developer', 'assistant', 'tool', 'user'];

function randomContent(rng: Rng): unknown {
  const r = rng();
  if (r < 0.6) return randomText(rng);
  if (r < 0.9) {
    return Array.from({ length: 1 + Math.floor(rng() * 3) }, () =>
      rng() < 0.7 ? { type: 'text', text: randomText(rng) } : { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } });
  }
  return null;
}

function randomMessages(rng: Rng): Record<string, unknown>[] {
  const n = Math.floor(rng() * 6);
  return Array.from({ length: n }, () => {
    const m: Record<string, unknown> = { role: rng() < 0.45 ? 'user' : pick(rng, ROLES), content: randomContent(rng) };
    if (rng() < 0.2) m.name = 'n';
    return Object.fromEntries(shuffle(rng, Object.entries(m)));
  });
}

export interface Case {
  path: string;
  body: Buffer;
  /** The key JSON.parse's reading gives; undefined: none (a random key). */
  expected: string | undefined;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

function contentBytes(content: unknown): Buffer {
  if (typeof content === 'string') return utf8(content);
  if (!Array.isArray(content)) return Buffer.alloc(0);
  return Buffer.concat(content.map((p) => (p !== null && typeof p === 'object' && !Array.isArray(p) && typeof p.text === 'string' ? utf8(p.text) : Buffer.alloc(0))));
}

/** The chat rule read off a parsed body. */
export function expectedChatKey(body: unknown): string | undefined {
  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const m of messages) {
    const isObject = m !== null && typeof m === 'object' && !Array.isArray(m);
    const role = isObject && typeof m.role === 'string' ? (m.role as string) : '';
    parts.push(utf8(role), Buffer.of(0), isObject ? contentBytes(m.content) : Buffer.alloc(0), Buffer.of(0));
    if (role === 'user') break;
  }
  return hashKey(Buffer.concat(parts));
}

export function expectedPromptKey(body: unknown): string | undefined {
  let prompt = (body as { prompt?: unknown }).prompt;
  if (Array.isArray(prompt)) prompt = prompt[0];
  if (typeof prompt !== 'string') return undefined;
  const bytes = utf8(prompt);
  const nl = bytes.indexOf(0x0a);
  return hashKey(bytes.subarray(0, Math.min(PROMPT_KEY_BYTES, nl < 0 ? bytes.length : nl)));
}

export function expectedChainKey(body: unknown): string | undefined {
  const b = body as { previous_response_id?: unknown; conversation?: unknown };
  const prev = typeof b.previous_response_id === 'string' ? routeKeyOf(b.previous_response_id) : undefined;
  if (prev !== undefined) return prev;
  const conv = b.conversation;
  const id = typeof conv === 'string' ? conv : conv !== null && typeof conv === 'object' ? (conv as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? routeKeyOf(id) : undefined;
}

const ID_TAIL = () => Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');

export function randomCase(rng: Rng): Case {
  const kind = rng();
  let path: string;
  let fields: Record<string, unknown>;
  if (kind < 0.5) {
    path = '/v1/chat/completions';
    fields = { messages: randomMessages(rng) };
  } else if (kind < 0.75) {
    path = '/v1/completions';
    const line = randomText(rng, 12) + (rng() < 0.5 ? '\nmore lines\n' : '') + (rng() < 0.3 ? 'x'.repeat(300) : '');
    fields = { prompt: rng() < 0.7 ? line : rng() < 0.8 ? [line, 'second'] : [[1, 2, 3]] };
  } else {
    path = '/v1/responses';
    const key = Array.from({ length: 16 }, () => '0123456789abcdef'[Math.floor(rng() * 16)]).join('');
    const r = rng();
    fields = { input: randomText(rng) };
    if (r < 0.4) fields.previous_response_id = `resp_${key}${ID_TAIL()}`;
    else if (r < 0.6) fields.conversation = `conv_${key}${ID_TAIL()}`;
    else if (r < 0.8) fields.conversation = { id: `conv_${key}${ID_TAIL()}` };
    else if (r < 0.9) fields.previous_response_id = 'resp_not_one_of_ours';
  }
  const value = randomObject(rng, fields);
  const body = utf8(encode(value, rng));
  const parsed: unknown = JSON.parse(body.toString('utf8'));
  const expected = path === '/v1/chat/completions' ? expectedChatKey(parsed) : path === '/v1/completions' ? expectedPromptKey(parsed) : expectedChainKey(parsed);
  return { path, body, expected };
}
