// Every bad input gets OpenAI's error body and status, the server keeps serving, and a turn that
// fails leaves its conversation exactly as it was.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { assertError, MODEL_ID, post, startServer, type ErrorShape, type TestServer } from './helpers.js';

const KEY = 'sk-test-key';
const AUTH = { authorization: `Bearer ${KEY}` };

let server: TestServer;
before(async () => {
  server = await startServer({ apiKey: KEY, maxQueuedRequests: 1 });
});
after(() => server?.close());

async function request(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.origin}${path}`, {
    method,
    headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as ErrorShape };
}

const chat = (extra: Record<string, unknown>) =>
  post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, ...extra }, AUTH);
const respond = (extra: Record<string, unknown>) =>
  post(server.origin, '/v1/responses', { model: MODEL_ID, input: 'Hi', max_output_tokens: 4, ...extra }, AUTH);

test('malformed JSON is a 400', async () => {
  for (const path of ['/v1/chat/completions', '/v1/responses', '/v1/conversations']) {
    assertError(await post(server.origin, path, '{"model": "stories260K", "messages": [', AUTH), 400, { param: null, code: 'invalid_json' });
  }
});

test('wrong types and out-of-range values are 400s naming the field', async () => {
  assertError(await chat({ temperature: 'hot' }), 400, { param: 'temperature', code: 'invalid_type' });
  assertError(await chat({ temperature: 2.5 }), 400, { param: 'temperature' });
  assertError(await chat({ top_p: 0 }), 400, { param: 'top_p' });
  assertError(await chat({ seed: 1.5 }), 400, { param: 'seed' });
  assertError(await chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), 400, { param: 'stop' });
  assertError(await chat({ messages: [{ role: 'user', content: 5 }] }), 400, { param: 'messages[0].content' });
  assertError(await chat({ messages: [{ role: 'robot', content: 'x' }] }), 400, { param: 'messages[0].role' });
  assertError(await chat({ messages: [{ role: 'tool', content: 'x' }] }), 400, { param: 'messages[0].tool_call_id' });
  assertError(await chat({ messages: [] }), 400, { param: 'messages' });
  assertError(await chat({ model: 7 }), 400, { param: 'model', code: 'invalid_type' });
  assertError(await chat({ n: 0 }), 400, { param: 'n' });
  assertError(await chat({ logprobs: true, top_logprobs: 21 }), 400, { param: 'top_logprobs' });
  assertError(await chat({ top_logprobs: 2 }), 400, { param: 'top_logprobs' });
  assertError(await chat({ tools: [{ type: 'function', function: { name: 'f' } }] }), 400, { param: 'tools' });
  assertError(await respond({ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }), 400, { param: 'input[0].content[0].type' });
  assertError(await respond({ metadata: { k: 5 } }), 400, { param: 'metadata.k' });
  assertError(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: ['a', 'b'] }, AUTH), 400, { param: 'prompt' });
  assertError(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: 'a', echo: true }, AUTH), 400, { param: 'echo' });
  assertError(await request('GET', '/v1/conversations/conv_x/items?limit=0'), 400, { param: 'limit' });
});

test('max_tokens out of range is a 400', async () => {
  assertError(await chat({ max_tokens: 0 }), 400, { param: 'max_tokens', code: 'invalid_value' });
  assertError(await chat({ max_tokens: 100_000 }), 400, { param: 'max_tokens' });
  assertError(await chat({ max_completion_tokens: -3 }), 400, { param: 'max_completion_tokens' });
  assertError(await respond({ max_output_tokens: 0 }), 400, { param: 'max_output_tokens' });
  assertError(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: 'a', max_tokens: 2049 }, AUTH), 400, { param: 'max_tokens' });
});

test('a prompt longer than the context window is a 400 context_length_exceeded', async () => {
  const long = 'the cat sat on the mat and '.repeat(400);
  assertError(await chat({ messages: [{ role: 'user', content: long }] }), 400, { param: 'messages', code: 'context_length_exceeded' });
  assertError(await respond({ input: long }), 400, { param: 'input', code: 'context_length_exceeded' });
  const ids = Array.from({ length: 2100 }, () => 300);
  assertError(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: ids }, AUTH), 400, { param: 'prompt', code: 'context_length_exceeded' });
  assertError(await post(server.origin, '/v1/completions', { model: MODEL_ID, prompt: [1, 99999] }, AUTH), 400, { param: 'prompt' });
});

test('an unknown model is a 404 model_not_found', async () => {
  assertError(await chat({ model: 'gpt-4o' }), 404, { param: 'model', code: 'model_not_found' });
  assertError(await respond({ model: 'gpt-4o' }), 404, { param: 'model', code: 'model_not_found' });
  assertError(await request('GET', '/v1/models/gpt-4o'), 404, { code: 'model_not_found' });
  const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: KEY, maxRetries: 0 });
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), OpenAI.NotFoundError);
});

test('unknown ids are 404s', async () => {
  assertError(await request('GET', '/v1/responses/resp_nope'), 404, {});
  assertError(await request('DELETE', '/v1/responses/resp_nope'), 404, {});
  assertError(await respond({ previous_response_id: 'resp_nope' }), 404, { param: 'previous_response_id', code: 'previous_response_not_found' });
  assertError(await respond({ conversation: 'conv_nope' }), 404, { param: 'conversation', code: 'conversation_not_found' });
  assertError(await request('GET', '/v1/conversations/conv_nope'), 404, { code: 'conversation_not_found' });
  assertError(await request('POST', '/v1/conversations/conv_nope', { metadata: {} }), 404, { code: 'conversation_not_found' });
  assertError(await request('DELETE', '/v1/conversations/conv_nope'), 404, { code: 'conversation_not_found' });
  assertError(await request('GET', '/v1/conversations/conv_nope/items'), 404, { code: 'conversation_not_found' });
  const conv = await request('POST', '/v1/conversations', {});
  const id = (conv.body as unknown as { id: string }).id;
  assertError(await request('GET', `/v1/conversations/${id}/items/msg_nope`), 404, { code: 'item_not_found' });
  assertError(await request('DELETE', `/v1/conversations/${id}/items/msg_nope`), 404, { code: 'item_not_found' });
  assertError(await request('GET', '/v1/nothing-here'), 404, { code: 'unknown_url' });
  // A store: false response was never kept, so it cannot be continued.
  const unstored = await respond({ store: false });
  assert.equal(unstored.status, 200);
  const unstoredId = (unstored.body as unknown as { id: string }).id;
  assertError(await respond({ previous_response_id: unstoredId }), 404, { param: 'previous_response_id' });
  assertError(await request('GET', `/v1/responses/${unstoredId}`), 404, {});
});

test('a missing or wrong API key is a 401; /health stays open, /metrics needs the key', async () => {
  const noKey = await fetch(`${server.origin}/v1/models`);
  assert.equal(noKey.status, 401);
  assertError({ status: noKey.status, body: (await noKey.json()) as ErrorShape }, 401, { code: 'missing_api_key' });
  const wrong = await post(server.origin, '/v1/chat/completions', {}, { authorization: 'Bearer sk-wrong' });
  assertError(wrong, 401, { code: 'invalid_api_key' });
  const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(client.models.list(), OpenAI.AuthenticationError);
  assert.equal((await fetch(`${server.origin}/health`)).status, 200);
  assert.equal((await fetch(`${server.origin}/metrics`)).status, 401);
  assert.equal((await fetch(`${server.origin}/metrics`, { headers: AUTH })).status, 200);
});

test('too many requests in flight is a 429', async () => {
  const abort = new AbortController();
  const long = await fetch(`${server.origin}/v1/completions`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 2000, ignore_eos: true, stream: true }),
    signal: abort.signal,
  });
  await long.body!.getReader().read(); // generating now
  try {
    const busy = await chat({});
    assertError(busy, 429, { type: 'requests', code: 'rate_limit_exceeded' });
    assert.equal(busy.headers.get('retry-after'), '1');
    assertError(await respond({}), 429, { type: 'requests', code: 'rate_limit_exceeded' });
  } finally {
    abort.abort();
  }
  // The place frees once the engine saw the abort.
  for (let i = 0; i < 100 && server.engine.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await chat({})).status, 200);
});

test('a failed turn leaves its conversation as it was', async () => {
  const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: KEY, maxRetries: 0 });
  const conv = await client.conversations.create({});
  const first = await client.responses.create({ model: MODEL_ID, input: 'Hello there.', conversation: conv.id, temperature: 0, max_output_tokens: 8 });
  const itemsBefore = (await client.conversations.items.list(conv.id)).data;
  const historyBefore = server.store.getTokenHistory(null, conv.id);
  assert.equal(itemsBefore.length, 2);

  // Refused before generating (range), and refused by the engine after the prompt was built (too long).
  assertError(await respond({ conversation: conv.id, max_output_tokens: 0 }), 400, { param: 'max_output_tokens' });
  assertError(await respond({ conversation: conv.id, input: 'the cat sat on the mat and '.repeat(400) }), 400, { code: 'context_length_exceeded' });
  // An item id already in the conversation would collide on commit: refused up front.
  const dup = [{ type: 'message', id: itemsBefore[0]!.id, role: 'user', content: 'again' }];
  assertError(await respond({ conversation: conv.id, input: dup }), 400, { param: 'input[0].id', code: 'duplicate_id' });
  // A client that leaves mid-stream commits nothing either.
  const abort = new AbortController();
  const res = await fetch(`${server.origin}/v1/responses`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL_ID, input: 'Tell me everything.', conversation: conv.id, temperature: 0, max_output_tokens: 1900, stream: true }),
    signal: abort.signal,
  });
  await res.body!.getReader().read();
  abort.abort();
  for (let i = 0; i < 100 && server.engine.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));

  assert.deepEqual((await client.conversations.items.list(conv.id)).data, itemsBefore);
  assert.deepEqual(server.store.getTokenHistory(null, conv.id), historyBefore);
  // And it continues from where it was, reusing the first turn's KV.
  const next = await client.responses.create({ model: MODEL_ID, input: 'And then?', conversation: conv.id, temperature: 0, max_output_tokens: 8 });
  assert.ok(next.usage!.input_tokens_details.cached_tokens >= first.usage!.input_tokens + first.usage!.output_tokens - 1);
  assert.equal((await client.conversations.items.list(conv.id)).data.length, 4);
});

test('the server still answers after all of that', async () => {
  const res = await chat({});
  assert.equal(res.status, 200);
  assert.equal((res.body as unknown as { object: string }).object, 'chat.completion');
});
