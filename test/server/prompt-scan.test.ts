// The body scanner against JSON.parse: on random request bodies, cut into random chunks (through
// escapes and multi-byte characters), it counts exactly the UTF-8 bytes of prompt text and the
// token ids that parsing the body and walking the same paths finds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PromptScan, type PromptFields } from '../../src/server/prompt-scan.js';

const CHAT: PromptFields = { param: 'messages', text: ['messages[].content', 'messages[].content[].text'] };
const COMPLETIONS: PromptFields = { param: 'prompt', text: ['prompt', 'prompt[]'], tokenIds: ['prompt[]', 'prompt[][]'] };

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'Once upon a time ', '"', '\\', '\n', '\t', '/', 'é', '中', '😀', '\u0001', '}', ']', '{"x":', ' '];

function randomText(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 12);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)]!;
  return s;
}

/** JSON.stringify, or with every non-ASCII character as \uXXXX (Python's ensure_ascii). */
function encode(value: unknown, ascii: boolean): string {
  const json = JSON.stringify(value, null, ascii ? 0 : 1);
  return ascii ? json.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/** What the scanner should find: the parsed body walked along the same paths. */
function expected(body: unknown, fields: PromptFields): { textBytes: number; tokenIds: number } {
  const at = (value: unknown, path: string[]): unknown[] => {
    if (path.length === 0) return [value];
    const [head, ...rest] = path;
    if (head === '[]') return Array.isArray(value) ? value.flatMap((v) => at(v, rest)) : [];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
    return Object.hasOwn(value, head!) ? at((value as Record<string, unknown>)[head!], rest) : [];
  };
  const split = (p: string) => p.split(/(?=\[\])|\./);
  let textBytes = 0;
  let tokenIds = 0;
  for (const p of fields.text) for (const v of at(body, split(p))) if (typeof v === 'string') textBytes += Buffer.byteLength(v);
  for (const p of fields.tokenIds ?? []) for (const v of at(body, split(p))) if (typeof v === 'number') tokenIds++;
  return { textBytes, tokenIds };
}

function scan(bytes: Buffer, fields: PromptFields, r: () => number): PromptScan {
  const s = new PromptScan(fields);
  let i = 0;
  while (i < bytes.length) {
    const end = Math.min(bytes.length, i + 1 + Math.floor(r() * 7));
    s.write(bytes.subarray(i, end));
    i = end;
  }
  return s;
}

function chatBody(r: () => number): unknown {
  const messages = Array.from({ length: 1 + Math.floor(r() * 4) }, () => ({
    role: 'user',
    content: r() < 0.5 ? randomText(r) : Array.from({ length: Math.floor(r() * 3) }, () => ({ type: 'text', text: randomText(r) })),
    ...(r() < 0.3 ? { name: randomText(r) } : {}),
  }));
  // Strings elsewhere that are not prompt text: the model, stop strings, a nested "content".
  return { model: randomText(r), stop: [randomText(r)], metadata: { content: randomText(r), messages: randomText(r) }, messages, max_tokens: 12 };
}

function completionBody(r: () => number): unknown {
  const ids = () => Array.from({ length: Math.floor(r() * 5) }, () => Math.floor(r() * 1000) - (r() < 0.1 ? 5 : 0));
  const choice = Math.floor(r() * 4);
  const prompt = [randomText(r), ids(), [randomText(r), randomText(r)], [ids(), ids()]][choice];
  return { prompt, model: 'm', logit_bias: { '12': -1.5, '7': 3 }, temperature: 0.7, echo: false, suffix: null };
}

test('scanned prompt bytes and token ids equal what JSON.parse gives, on random bodies in random chunks', () => {
  const r = rng(11);
  for (let round = 0; round < 400; round++) {
    const [body, fields] = round % 2 === 0 ? [chatBody(r), CHAT] : [completionBody(r), COMPLETIONS];
    const json = encode(body, r() < 0.5);
    assert.deepEqual(JSON.parse(json), body);
    const s = scan(Buffer.from(json), fields, r);
    assert.equal(s.malformed, false, json);
    assert.deepEqual({ textBytes: s.textBytes, tokenIds: s.tokenIds }, expected(body, fields), json);
  }
});

test('keys are read as JSON.parse reads them (escapes decoded); other keys, long ones too, do not count', () => {
  const r = rng(3);
  const s = scan(Buffer.from('{"mess\\u0061ges":[{"content":"abc"}],"messagesmessagesmessagesmessagesmessagesmessagesmessagesmessages":[{"content":"x"}]}'), CHAT, r);
  assert.equal(s.textBytes, 3);
});

test('a lone surrogate escape counts no more than its UTF-8 replacement', () => {
  const json = '{"messages":[{"content":"a\\ud800b"}]}';
  const s = scan(Buffer.from(json), CHAT, rng(1));
  assert.ok(s.textBytes <= Buffer.byteLength((JSON.parse(json) as { messages: { content: string }[] }).messages[0]!.content));
  assert.equal(s.textBytes, 4);
});

test('unbalanced brackets stop the count and say so', () => {
  const s = new PromptScan(CHAT);
  s.write(Buffer.from('{"messages":[{"content":"abc"}}]'));
  assert.equal(s.malformed, true);
  s.write(Buffer.from('{"messages":[{"content":"more text"}]}'));
  assert.equal(s.textBytes, 3);
});

test('a long paste with an escape per line, in 64 KiB chunks, is counted exactly', () => {
  const paste = 'All work and no play makes Jack a dull boy.\n'.repeat(100_000);
  const bytes = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: paste }] }));
  const s = new PromptScan(CHAT);
  for (let i = 0; i < bytes.length; i += 65536) s.write(bytes.subarray(i, i + 65536));
  assert.equal(s.textBytes, Buffer.byteLength(paste));
});
