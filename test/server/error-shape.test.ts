// Every non-2xx answer is OpenAI's {"error": {message, type, param, code}}, including the ones
// fastify and Node produce on their own: 404 and 405, 413, 414, 415, a bad percent-encoding, a
// malformed request, headers over the limit, and the 503 for a request that arrives while the
// server is closing. 429 and 503 say when to retry.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, test } from 'node:test';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';
import { exchange, rawRequest, type RawResponse } from './raw-http.js';

const KEY = 'sk-error-shape';
const AUTH = { authorization: `Bearer ${KEY}` };
const close = { connection: 'close' };

let server: TestServer;
before(async () => {
  server = await startServer({ apiKey: KEY });
});
after(() => server?.close());

export function assertOpenAiError(res: RawResponse, status: number, code: string | null, what = `${status}`): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.body}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, what);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error'], what);
  const error = body.error as Record<string, unknown>;
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'], what);
  assert.equal(typeof error.message, 'string');
  assert.ok((error.message as string).length > 0);
  assert.ok(['invalid_request_error', 'authentication_error', 'requests', 'server_error'].includes(error.type as string), what);
  if (code !== null) assert.equal(error.code, code, what);
}

async function one(method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const [res] = await exchange(server.origin, rawRequest(method, target, { ...AUTH, ...close, ...headers }, body));
  return res!;
}

test('an unknown path is a 404, a known path with another method a 405 naming the methods', async () => {
  assertOpenAiError(await one('GET', '/v1/nothing'), 404, 'unknown_url');
  const wrong = await one('PUT', '/v1/chat/completions', { 'content-type': 'application/json' }, '{}');
  assertOpenAiError(wrong, 405, 'method_not_allowed');
  assert.equal(wrong.headers.allow, 'POST');
  const get = await one('GET', '/v1/conversations/conv_x/items/msg_y');
  assertOpenAiError(get, 404, 'conversation_not_found');
  const patch = await one('PATCH', '/v1/conversations/conv_x');
  assertOpenAiError(patch, 405, 'method_not_allowed');
  assert.deepEqual(patch.headers.allow!.split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'POST']);
});

test('fastify answers before routing are shaped too: bad encoding 400, over-long parameter 414', async () => {
  assertOpenAiError(await one('GET', '/v1/responses/%zz'), 400, 'bad_request');
  assertOpenAiError(await one('GET', `/v1/responses/${'r'.repeat(10_000)}`), 414, 'uri_too_long');
  // An id of an ordinary length is looked up and not found.
  assertOpenAiError(await one('GET', `/v1/responses/${'r'.repeat(200)}`), 404, null);
});

test('body errors: 415 for a content type the server does not read, 413 past the body limit, 400 for bad JSON', async () => {
  assertOpenAiError(await one('POST', '/v1/chat/completions', { 'content-type': 'text/plain' }, 'hello'), 415, 'unsupported_media_type');
  assertOpenAiError(await one('POST', '/v1/responses', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'), 415, 'unsupported_media_type');
  // A declared length past the limit is refused before a byte of the body is read.
  assertOpenAiError(await one('POST', '/v1/chat/completions', { 'content-type': 'application/json', 'content-length': String(2 ** 40) }), 413, 'request_too_large');
  assertOpenAiError(await one('POST', '/v1/responses', { 'content-type': 'application/json' }, '{"model":'), 400, 'invalid_json');
});

test('requests Node refuses before fastify sees them: malformed HTTP 400, headers too large 431', async () => {
  const [garbage] = await exchange(server.origin, 'NOT HTTP AT ALL\r\n\r\n');
  assertOpenAiError(garbage!, 400, 'bad_request');
  const [huge] = await exchange(server.origin, rawRequest('GET', '/v1/models', { ...AUTH, 'x-padding': 'p'.repeat(20_000) }));
  assertOpenAiError(huge!, 431, 'headers_too_large');
  const [longUrl] = await exchange(server.origin, rawRequest('GET', `/v1/models?${'q'.repeat(20_000)}`, AUTH));
  assertOpenAiError(longUrl!, 431, 'headers_too_large');
});

test('a request arriving while the server closes is a 503 with Retry-After', async () => {
  const closing = await startServer({ apiKey: KEY });
  const { port } = new URL(closing.origin);
  // A streamed generation keeps the server draining; a second connection is mid-request.
  const abort = new AbortController();
  const stream = await fetch(`${closing.origin}/v1/completions`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'Once', max_tokens: 1500, ignore_eos: true, stream: true }),
    signal: abort.signal,
  });
  await stream.body!.getReader().read();
  const late = net.connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => late.once('connect', resolve));
  late.write('GET /v1/models HTTP/1.1\r\nhost: x\r\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closed = closing.app.close();
  let received = '';
  late.on('data', (chunk) => (received += chunk.toString('latin1')));
  const ended = new Promise((resolve) => late.once('close', resolve));
  late.write(`authorization: Bearer ${KEY}\r\n\r\n`);
  await ended;
  abort.abort();
  await closed;
  await closing.close();
  const [head, body] = [received.slice(0, received.indexOf('\r\n\r\n')), received.slice(received.indexOf('\r\n\r\n') + 4)];
  const headers = Object.fromEntries(head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  assertOpenAiError({ status: Number(head.split(' ')[1]), headers, body }, 503, 'server_shutting_down');
  // The same answer as a draining server's (lifecycle.test.ts): retry in a few seconds, elsewhere.
  assert.equal(headers['retry-after'], '5');
  assert.equal(headers.connection, 'close');
});
