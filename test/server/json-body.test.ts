// JSON bodies on a real server: a prompt past the context is refused from its measured size,
// before the body is parsed (a body cut short after the prompt is still refused for its length,
// not for its JSON), in the param each route uses, on a connection that stays usable; bodies
// that can fit are parsed by fastify's parser as before.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, test } from 'node:test';
import { MODEL_ID, post, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

// stories260K: a 2048-token context; this is more text than that many tokens can hold.
const long = () => 'Once upon a time there was a little girl who had a red ball. '.repeat(Math.ceil((server.engine.model.contextLength * server.engine.model.maxInputBytesPerToken) / 60) + 1);

function assertTooLong(res: { status: number; body: { error: { code: string | null; param: string | null; message: string } } }, param: string): void {
  assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 300));
  assert.equal(res.body.error.code, 'context_length_exceeded');
  assert.equal(res.body.error.param, param);
  assert.match(res.body.error.message, /at least \d+ tokens/);
}

test('a prompt past the context is refused in each route\'s shape of it', async () => {
  const text = long();
  assertTooLong(await post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: [{ type: 'text', text }] }] }), 'messages');
  assertTooLong(await post(server.origin, '/v1/responses', { model: MODEL_ID, input: [{ role: 'user', content: [{ type: 'input_text', text }] }] }), 'input');
  assertTooLong(await post(server.origin, '/v1/responses', { model: MODEL_ID, instructions: text, input: 'hi' }), 'input');
  assertTooLong(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: [text] }), 'prompt');
  const ids = Array.from({ length: server.engine.model.contextLength }, () => 300);
  assertTooLong(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: [ids] }), 'prompt');
});

test('the refusal comes from the size alone: a body cut short after its prompt is refused for length, not as JSON', async () => {
  const body = JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: long() }] });
  assertTooLong(await post(server.origin, '/v1/chat/completions', body.slice(0, -3)), 'messages');
  // A short body cut the same way is a JSON error, as always.
  const short = JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'Once' }] });
  const res = await post(server.origin, '/v1/chat/completions', short.slice(0, -3));
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'invalid_json');
});

test('after a refused body the connection serves the next request', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (body: string) =>
    new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const req = http.request(`${server.origin}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const first = await send(JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: long() }] }));
  const second = await send(JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 2 }));
  agent.destroy();
  assert.equal(first.status, 400);
  assert.deepEqual(second, { status: 200, reused: true });
});

test('bodies that fit are parsed as fastify parses them: escaped keys read, __proto__ refused', async () => {
  const escaped = '{"model":"stories260K","mess\\u0061ges":[{"role":"user","content":"Once upon a time"}],"max_tokens":2}';
  assert.equal((await post(server.origin, '/v1/chat/completions', escaped)).status, 200);
  const poisoned = '{"model":"stories260K","messages":[{"role":"user","content":"Once"}],"__proto__":{"x":1}}';
  const res = await post(server.origin, '/v1/chat/completions', poisoned);
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'invalid_json');
});
