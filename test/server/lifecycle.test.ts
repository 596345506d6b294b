// The server around its engine's life: it answers 503 model_loading before the engine is
// attached and 503 shutting down while it drains (OpenAI-shaped, with Retry-After); each
// response carries its request id; the request log is pino's, as JSON or as text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { EngineClient } from '../../src/engine/client.js';
import { buildServer } from '../../src/server/app.js';
import { ServerLifecycle } from '../../src/server/lifecycle.js';
import { textLine } from '../../src/server/log-format.js';
import { Store } from '../../src/store/index.js';
import { engineOptions, MODEL_ID, type ErrorShape } from './helpers.js';

function withStore(t: { after: (fn: () => void) => void }): Store {
  const dir = mkdtempSync(path.join(tmpdir(), 'pensieve-lifecycle-'));
  const store = Store.open(dir);
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** A test engine and a server around it with its own lifecycle, on a free port; all closed after the test. */
async function serving(t: TestContext): Promise<{ lifecycle: ServerLifecycle; store: Store; origin: string }> {
  const engine = await EngineClient.start(engineOptions('pensieve'));
  t.after(() => engine.close());
  const lifecycle = new ServerLifecycle();
  const store = withStore(t);
  const app = buildServer({ engine, lifecycle, store, maxQueuedRequests: 4 });
  t.after(() => app.close());
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  return { lifecycle, store, origin };
}

function assertOpenAIError(body: unknown, code: string): void {
  const e = (body as ErrorShape).error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(e.code, code);
  assert.equal(e.type, 'server_error');
}

test('before the engine is attached every route answers 503 model_loading; then it serves', async (t) => {
  const lifecycle = new ServerLifecycle();
  const app = buildServer({ lifecycle, store: withStore(t), maxQueuedRequests: 4 });
  t.after(() => app.close());
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });

  for (const [method, url] of [['GET', '/v1/models'], ['POST', '/v1/chat/completions'], ['POST', '/v1/responses'], ['GET', '/metrics']] as const) {
    const res = await fetch(`${origin}${url}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
    assert.equal(res.status, 503, url);
    assert.equal(res.headers.get('retry-after'), '5', url);
    assertOpenAIError(await res.json(), 'model_loading');
  }
  const loading = await fetch(`${origin}/health`);
  assert.equal(loading.status, 503);
  assert.deepEqual(await loading.json(), { status: 'loading', model: null, requests_in_flight: 0 });

  const engine = await EngineClient.start(engineOptions('pensieve'));
  t.after(() => engine.close());
  lifecycle.attach(engine);
  const ready = await fetch(`${origin}/health`);
  assert.equal(ready.status, 200);
  assert.equal(((await ready.json()) as { status: string }).status, 'ok');
  const completion = await fetch(`${origin}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 2 }),
  });
  assert.equal(completion.status, 200);
});

test('while draining, new requests get 503 server_shutting_down with Retry-After and Connection: close', async (t) => {
  const { lifecycle, origin } = await serving(t);
  lifecycle.beginDrain();

  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.equal(res.headers.get('connection'), 'close');
  assertOpenAIError(await res.json(), 'server_shutting_down');
  const health = await fetch(`${origin}/health`);
  assert.equal(health.status, 503);
  assert.equal(((await health.json()) as { status: string }).status, 'shutting_down');
});

test('a generation cut at the drain deadline answers 503 (plain) with Retry-After', async (t) => {
  const { lifecycle, origin } = await serving(t);
  const pending = fetch(`${origin}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'Once', max_tokens: 2000, ignore_eos: true }),
  });
  // Wait until the engine accepted it, then pass the deadline.
  while (lifecycle.generations === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  lifecycle.beginDrain();
  assert.equal(lifecycle.cutAll(), 1);
  const res = await pending;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assertOpenAIError(await res.json(), 'server_shutting_down');
});

test('x-request-id is echoed when valid, replaced when not, and every JSON log line has time, id and client', async (t) => {
  const engine = await EngineClient.start(engineOptions('pensieve'));
  t.after(() => engine.close());
  const lines: string[] = [];
  const app = buildServer({ engine, store: withStore(t), maxQueuedRequests: 4, logRequests: true, logFormat: 'json', log: (l) => lines.push(l) });
  t.after(() => app.close());
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });

  const given = await fetch(`${origin}/health`, { headers: { 'x-request-id': 'trace-42/abc' } });
  assert.equal(given.headers.get('x-request-id'), 'trace-42/abc');
  for (const bad of ['has space', 'x'.repeat(129), 'é']) {
    const res = await fetch(`${origin}/health`, { headers: { 'x-request-id': bad } }).catch(() => null);
    if (res === null) continue; // fetch itself refuses some header values
    const id = res.headers.get('x-request-id')!;
    assert.notEqual(id, bad);
    assert.match(id, /^[0-9a-f-]{36}$/, 'a new UUID');
  }
  const streamed = await fetch(`${origin}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'stream-1' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 3, temperature: 0, stream: true }),
  });
  assert.equal(streamed.headers.get('x-request-id'), 'stream-1', 'streamed (hijacked) responses carry it too');
  await streamed.text();
  await new Promise((resolve) => setTimeout(resolve, 50)); // the line is written on 'close'

  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const health = records.find((r) => r.reqId === 'trace-42/abc')!;
  assert.equal(health.msg, 'request');
  assert.match(String(health.time), /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  assert.equal(health.remote, '127.0.0.1');
  assert.equal(health.method, 'GET');
  assert.equal(health.url, '/health');
  assert.equal(health.status, 200);
  assert.equal(typeof health.duration_ms, 'number');
  const stream = records.find((r) => r.reqId === 'stream-1')!;
  assert.equal(stream.status, 200);
  assert.equal(stream.completion_tokens, 3);
  assert.equal(typeof stream.prompt_tokens, 'number');
  console.log(`json: ${lines.find((l) => l.includes('"stream-1"'))}`);
  console.log(`text: ${textLine(stream)}`);
  assert.match(textLine(stream), /^\S+Z stream-1 127\.0\.0\.1 POST \/v1\/completions 200 prompt=\d+ completion=3 cached=\d+ [\d.]+ms$/);
});

test('a Responses stream cut at the drain deadline ends with response.failed and stores nothing', async (t) => {
  const { lifecycle, store, origin } = await serving(t);
  const res = await fetch(`${origin}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, input: 'Once', max_output_tokens: 2000, ignore_eos: true, stream: true }),
  });
  assert.equal(res.status, 200);
  while (lifecycle.generations === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  lifecycle.beginDrain();
  lifecycle.cutAll();
  const text = await res.text();
  const events = text.split('\n\n').filter((e) => e !== '');
  const last = events.at(-1)!;
  assert.match(last, /^event: response\.failed\n/);
  const failed = JSON.parse(last.split('\ndata: ')[1]!) as { response: { id: string; status: string; error: { message: string } } };
  assert.equal(failed.response.status, 'failed');
  assert.match(failed.response.error.message, /shutting down/);
  assert.equal(store.getResponse(null, failed.response.id), undefined, 'a cut turn is not committed');
});
