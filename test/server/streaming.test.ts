// Responses API streaming as the official client consumes it, and a client that hangs up
// mid-stream: generation stops instead of running on for nobody.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer({ cacheMode: 'pensieve' });
});
after(() => server?.close());

const EVENT_ORDER = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
];

test('a streamed response sends its events in order and ends as the non-streamed one', async () => {
  const request = { model: MODEL_ID, input: 'Tell me a story.', temperature: 0, max_output_tokens: 16 };
  const whole = await server.client.responses.create(request);

  const events: ResponseStreamEvent[] = [];
  const stream = await server.client.responses.create({ ...request, stream: true });
  for await (const event of stream) events.push(event);
  const types = events.map((e) => e.type).filter((t, i, all) => t !== 'response.output_text.delta' || all[i - 1] !== t);
  assert.deepEqual(types, [...EVENT_ORDER, whole.status === 'incomplete' ? 'response.incomplete' : 'response.completed']);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));

  const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
  assert.equal(deltas.join(''), whole.output_text);
  const last = events.at(-1)!;
  assert.ok(last.type === 'response.incomplete' || last.type === 'response.completed');
  assert.equal(last.response.usage!.output_tokens, whole.usage!.output_tokens);

  // The streamed response was stored before its last event, and can be continued at once.
  const stored = await server.client.responses.retrieve(last.response.id);
  assert.equal(stored.output_text, whole.output_text);
  const next = await server.client.responses.create({ ...request, input: 'And then?', previous_response_id: last.response.id });
  assert.ok(next.usage!.input_tokens_details.cached_tokens >= whole.usage!.input_tokens + whole.usage!.output_tokens - 1);
});

test('client.responses.stream() assembles the final response', async () => {
  const runner = server.client.responses.stream({ model: MODEL_ID, input: 'Hello!', temperature: 0, max_output_tokens: 10 });
  let text = '';
  runner.on('response.output_text.delta', (e) => (text += e.delta));
  const final = await runner.finalResponse();
  assert.equal(final.output_text, text);
  assert.equal(final.output[0]!.type, 'message');
  assert.ok(text.length > 0);
});

async function idle(): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const stats = await server.engine.stats();
    if (stats.running === 0 && stats.waiting === 0 && server.engine.inFlight === 0) return true;
    await sleep(20);
  }
  return false;
}

test('a client that disconnects mid-stream stops its generation', async () => {
  for (const [path, body] of [
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 1900 }],
    ['/v1/responses', { input: 'Tell me a long story.', max_output_tokens: 1900 }],
  ] as const) {
    const generated0 = (await server.engine.stats()).generatedTokens;
    const abort = new AbortController();
    const res = await fetch(`${server.origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, ...body, ignore_eos: true, temperature: 0, stream: true }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // the stream is flowing
    abort.abort();
    assert.ok(await idle(), `${path}: nothing runs after the client left`);
    const generated = (await server.engine.stats()).generatedTokens - generated0;
    assert.ok(generated < 1900, `${path}: stopped after ${generated} tokens`);
  }
  assert.ok(server.logLines.some((l) => l.includes('client gone')));
  const metrics = await (await fetch(`${server.origin}/metrics`)).text();
  assert.match(metrics, /pensieve_request_success_total\{finished_reason="abort"\} 2/);
});

test('/v1/responses takes ignore_eos (a boolean, as on the other routes)', async () => {
  const post = (body: object) => fetch(`${server.origin}/v1/responses`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL_ID, input: 'Hi', ...body }),
  });
  const bad = await post({ ignore_eos: 'yes' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'ignore_eos');
  const ok = await post({ ignore_eos: true, max_output_tokens: 12, temperature: 0 });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { usage: { output_tokens: number } }).usage.output_tokens, 12);
});
