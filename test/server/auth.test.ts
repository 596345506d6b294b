// The API key holds whatever spelling of a path reaches a route: raw-socket requests that the
// router maps to a /v1 route (percent-encoding, absolute-form targets, dot segments, case,
// trailing dots and slashes, HTTP/1.0, a second request pipelined behind an authorized one) are
// all 401 without the key. Only /health (and /metrics with metricsPublic) answer without one.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from './helpers.js';
import { exchange, rawRequest, type RawResponse } from './raw-http.js';

const KEY = 'sk-auth-test-key';

let server: TestServer;
before(async () => {
  server = await startServer({ apiKey: KEY });
});
after(() => server?.close());

const close = { connection: 'close' };
const authorized = { authorization: `Bearer ${KEY}` };

async function one(method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const responses = await exchange(server.origin, rawRequest(method, target, { ...close, ...headers }, body));
  assert.equal(responses.length, 1, `${method} ${target}: ${responses.length} responses`);
  return responses[0]!;
}

function assert401(res: RawResponse, what: string): void {
  assert.equal(res.status, 401, `${what}: ${res.status} ${res.body}`);
  const { error } = JSON.parse(res.body) as { error: { code: string; type: string; message: string; param: null } };
  assert.equal(error.code, 'missing_api_key', what);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.param, null);
}

// Each of these reaches a real route (checked with the key below), so without it each must be a 401.
const SPELLINGS: [string, string][] = [
  ['GET', '/%761/models'],
  ['GET', '/%76%31/models'],
  ['GET', '/v1/%6dodels'],
  ['GET', '/v1/models?x=/health'],
  ['GET', 'http://x/v1/models'],
  ['GET', 'https://evil.example:443/v1/models'],
  ['POST', 'http://x/v1/conversations'],
  ['POST', '/%761/conversations'],
];

test('every spelling of a /v1 route that the router serves needs the key', async () => {
  for (const [method, target] of SPELLINGS) {
    const body = method === 'POST' ? '{}' : '';
    const headers: Record<string, string> = method === 'POST' ? { 'content-type': 'application/json' } : {};
    assert401(await one(method, target, headers, body), `${method} ${target}`);
    // The same request with the key is served, so the 401 above is the key check, not a miss.
    const served = await one(method, target, { ...headers, ...authorized }, body);
    assert.equal(served.status, 200, `${method} ${target} with the key: ${served.status} ${served.body}`);
  }
});

test('paths the router does not serve need the key too, so they reveal nothing', async () => {
  const targets = [
    '//v1/models', '/v1//models', '/v1/../v1/models', '/v1/./models', '/V1/models', '/v1/MODELS', '/V1/MODELS',
    '/v1/models/', '/v1/models.', '/v1/models..', '/v1/models%2F', '/v1/models%00', '/v1', '/v1/', '/', '/nothing',
    '/health/..%2Fv1/models', '/v1/models;/health', '/v1/responses/%zz', `/v1/responses/${'a'.repeat(2000)}`, '/metrics',
  ];
  for (const target of targets) assert401(await one('GET', target), `GET ${target}`);
  for (const [method, target] of [['PUT', '/v1/models'], ['DELETE', '/v1/models'], ['OPTIONS', '*'], ['PATCH', '/v1/chat/completions']] as const) {
    assert401(await one(method, target), `${method} ${target}`);
  }
  // With the key they get what they are: a 404, 405, 400 or 414, each in the one error shape.
  for (const [target, status] of [['/V1/models', 404], ['/v1/models/', 404], ['/v1/responses/%zz', 400], [`/v1/responses/${'a'.repeat(2000)}`, 414]] as const) {
    const res = await one('GET', target, authorized);
    assert.equal(res.status, status, `GET ${target}: ${res.body}`);
    assert.equal(typeof (JSON.parse(res.body) as { error: { message: string } }).error.message, 'string');
  }
  assert.equal((await one('PUT', '/v1/models', authorized)).status, 405);
});

test('HTTP/1.0 needs the key', async () => {
  const [res] = await exchange(server.origin, rawRequest('GET', '/v1/models', {}, '', 'HTTP/1.0'));
  assert401(res!, 'HTTP/1.0 GET /v1/models');
  const [absolute] = await exchange(server.origin, rawRequest('GET', 'http://x/%761/models', {}, '', 'HTTP/1.0'));
  assert401(absolute!, 'HTTP/1.0 absolute-form');
});

test('a request pipelined behind an authorized one on the same socket needs its own key', async () => {
  const body = '{"metadata":{"who":"intruder"}}';
  const json = { 'content-type': 'application/json' };
  const data =
    rawRequest('GET', '/v1/models', authorized) +
    rawRequest('POST', '/%761/conversations', json, body) +
    rawRequest('GET', 'http://x/v1/models', {}) +
    rawRequest('GET', '/v1/models', { ...authorized, ...close });
  const responses = await exchange(server.origin, data);
  assert.deepEqual(responses.map((r) => r.status), [200, 401, 401, 200]);
  assert401(responses[1]!, 'pipelined POST');
});

test('only a matching Bearer key passes; the health check needs none', async () => {
  assert.equal((await one('GET', '/v1/models', { authorization: `bearer ${KEY}` })).status, 200);
  for (const authorization of [`Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, 'Bearer ', `Basic ${KEY}`, KEY, `Bearer ${KEY.toUpperCase()}`]) {
    const res = await one('GET', '/v1/models', { authorization });
    assert.equal(res.status, 401, authorization);
  }
  for (const target of ['/health', '/%68ealth', 'http://x/health']) assert.equal((await one('GET', target)).status, 200, target);
});

test('--metrics-public opens /metrics and nothing else', async () => {
  const open = await startServer({ apiKey: KEY, metricsPublic: true });
  try {
    const res = await exchange(open.origin, rawRequest('GET', '/metrics', close));
    assert.equal(res[0]!.status, 200);
    const v1 = await exchange(open.origin, rawRequest('GET', '/%761/models', close));
    assert.equal(v1[0]!.status, 401);
  } finally {
    await open.close();
  }
});
