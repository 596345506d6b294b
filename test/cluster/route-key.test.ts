// The routing-key rules (src/cluster/route-key.ts, the TypeScript twin of HAProxy's Lua): every
// turn of a conversation gets the same key, read from the path or the body by a scanner that
// respects strings, and a body cut anywhere (HAProxy buffers only its first 256 KiB) gives
// either the key of the whole body or none — never another one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashKey, routeKeyFor, type RouteRequest } from '../../src/cluster/route-key.js';
import { mulberry32 } from '../helpers/random.js';
import { expectedChatKey, randomCase } from './json-bodies.js';

const ID = 'resp_0123456789abcdef0123456789abcdef0123456789abcdef';
const CONV = 'conv_fedcba9876543210fedcba9876543210fedcba9876543210';
const post = (path: string, body: unknown): RouteRequest => ({ method: 'POST', path, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
const never = () => 'RANDOM';

test('a path naming a response or a conversation routes by the key its id carries', () => {
  for (const [method, path, key] of [
    ['GET', `/v1/responses/${ID}`, '0123456789abcdef'],
    ['DELETE', `/v1/responses/${ID}`, '0123456789abcdef'],
    ['GET', `/v1/responses/${ID}/input_items`, '0123456789abcdef'],
    ['GET', `/v1/conversations/${CONV}`, 'fedcba9876543210'],
    ['POST', `/v1/conversations/${CONV}/items`, 'fedcba9876543210'],
    ['GET', `/v1/conversations/${CONV}/items/msg_1`, 'fedcba9876543210'],
  ] as const) {
    assert.deepEqual(routeKeyFor({ method, path, body: Buffer.alloc(0) }, never), { key, source: 'path' }, path);
  }
  for (const path of ['/v1/responses/resp_123', '/v1/conversations/', '/v1/models', `/x/v1/responses/${ID}`]) {
    assert.deepEqual(routeKeyFor({ method: 'GET', path, body: Buffer.alloc(0) }, never), { key: 'RANDOM', source: 'random' }, path);
  }
});

test('a Responses turn routes by previous_response_id, else by its conversation (string or {id})', () => {
  assert.deepEqual(routeKeyFor(post('/v1/responses', { model: 'm', input: 'hi', previous_response_id: ID }), never), { key: '0123456789abcdef', source: 'previous_response_id' });
  assert.deepEqual(routeKeyFor(post('/v1/responses', { conversation: CONV, input: 'hi' }), never), { key: 'fedcba9876543210', source: 'conversation' });
  assert.deepEqual(routeKeyFor(post('/v1/responses', { conversation: { id: CONV }, input: 'hi' }), never), { key: 'fedcba9876543210', source: 'conversation' });
  // A new chain, an id that is not ours, or a key name that only appears inside a string: random.
  for (const body of [
    { input: 'hi' },
    { input: 'hi', previous_response_id: 'resp_abc' },
    { input: `"previous_response_id": "${ID}"` },
    { input: [{ role: 'user', content: `{"conversation":"${CONV}"}` }] },
    { metadata: { previous_response_id: ID } },
  ]) {
    assert.deepEqual(routeKeyFor(post('/v1/responses', body), never), { key: 'RANDOM', source: 'random' }, JSON.stringify(body));
  }
  // GET /v1/responses/... never reads a body; a POST elsewhere neither.
  assert.equal(routeKeyFor({ ...post('/v1/conversations', { previous_response_id: ID }) }, never).source, 'random');
});

test('every resend of a chat conversation gets the key of its leading messages', () => {
  const system = { role: 'system', content: 'You tell stories.' };
  const first = { role: 'user', content: 'Tell me about a cat.' };
  const turn1 = [system, first];
  const turn2 = [...turn1, { role: 'assistant', content: 'The cat sat.' }, { role: 'user', content: 'And then?' }];
  const turn3 = [...turn2, { role: 'assistant', content: 'It slept.' }, { role: 'user', content: 'The end?' }];
  const keys = [turn1, turn2, turn3].map((messages) => routeKeyFor(post('/v1/chat/completions', { model: 'm', messages, temperature: 0 }), never));
  assert.equal(keys[0]!.source, 'messages');
  assert.deepEqual(keys[1], keys[0]);
  assert.deepEqual(keys[2], keys[0]);
  assert.equal(keys[0]!.key, hashKey(Buffer.from('system\0You tell stories.\0user\0Tell me about a cat.\0')));
  // Another opening question, or another system prompt: another key.
  const other = routeKeyFor(post('/v1/chat/completions', { messages: [system, { role: 'user', content: 'Tell me about a dog.' }] }), never);
  assert.notEqual(other.key, keys[0]!.key);
  // Formatting does not matter: white space, escapes, key order, content as parts.
  const reformatted = `{ "messages" : [ {"content":"You tell stories.","role":"system"},\n {"role":"\\u0075ser","content":[{"type":"text","text":"Tell me "},{"type":"text","text":"about a \\u0063at."}]} ], "model":"m" }`;
  assert.deepEqual(routeKeyFor(post('/v1/chat/completions', reformatted), never), keys[0]);
});

test('a completions prompt routes by its first line, at most 256 bytes', () => {
  const a = routeKeyFor(post('/v1/completions', { prompt: 'System: be brief\nUser: hi' }), never);
  const b = routeKeyFor(post('/v1/completions', { prompt: 'System: be brief\nUser: hi\nBot: hello\nUser: more' }), never);
  const c = routeKeyFor(post('/v1/completions', { prompt: ['System: be brief\nUser: other'] }), never);
  assert.equal(a.source, 'prompt');
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
  assert.equal(a.key, hashKey(Buffer.from('System: be brief')));
  const long = 'x'.repeat(256);
  assert.deepEqual(routeKeyFor(post('/v1/completions', { prompt: `${long}yyy` }), never), routeKeyFor(post('/v1/completions', { prompt: `${long}zzz` }), never));
  for (const prompt of [[1, 2, 3], [], 42]) assert.equal(routeKeyFor(post('/v1/completions', { prompt }), never).source, 'random');
});

test('malformed bodies and odd shapes route by a random key without throwing', () => {
  for (const body of ['', 'not json', '[1,2]', '{"messages":', '{"messages":{}}', '{"messages":[]}', '{"messages":"hi"}', '{"messages":[{"role":"user","content":"\\x"}]}', '{"a":1}', '{"messages":[' + '['.repeat(100) + ']'.repeat(100) + ']}']) {
    assert.equal(routeKeyFor(post('/v1/chat/completions', body), never).source, 'random', body);
  }
});

test('on random bodies, the scanner agrees with JSON.parse', () => {
  const rng = mulberry32(17);
  let keyed = 0;
  for (let i = 0; i < 2000; i++) {
    const c = randomCase(rng);
    const got = routeKeyFor({ method: 'POST', path: c.path, body: c.body }, never);
    assert.equal(got.source === 'random' ? undefined : got.key, c.expected, `case ${i}: ${c.path} ${c.body.toString('latin1')}`);
    if (c.expected !== undefined) keyed++;
  }
  assert.ok(keyed > 1000, `only ${keyed} of 2000 random bodies had a key`);
});

test('a body cut anywhere gives the whole body\'s key or none, and the key once its leading part is in', () => {
  const rng = mulberry32(5);
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const c = randomCase(rng);
    if (c.expected === undefined) continue;
    let seen = false;
    for (let cut = 0; cut <= c.body.length; cut++) {
      const got = routeKeyFor({ method: 'POST', path: c.path, body: c.body.subarray(0, cut) }, never);
      if (got.source === 'random') {
        assert.ok(!seen, `case ${i}: the key came and went at ${cut}`);
        continue;
      }
      assert.equal(got.key, c.expected, `case ${i}, cut at ${cut}`);
      seen = true;
    }
    assert.ok(seen);
    checked++;
  }
  assert.ok(checked > 100);
});

test('a chat key needs the first user message whole: a body cut inside it has none', () => {
  const body = JSON.stringify({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hello there' }, { role: 'assistant', content: 'x'.repeat(1000) }] });
  const full = expectedChatKey(JSON.parse(body));
  const end = body.indexOf('}', body.indexOf('hello there')) + 1;
  assert.equal(routeKeyFor(post('/v1/chat/completions', body.slice(0, end - 1)), never).source, 'random');
  assert.deepEqual(routeKeyFor(post('/v1/chat/completions', body.slice(0, end)), never), { key: full, source: 'messages' });
});
