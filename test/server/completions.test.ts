// Stateless clients: /v1/chat/completions and /v1/completions, streamed and not. A client that
// resends its history finds it in the prefix cache.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer({ cacheMode: 'prefix' });
});
after(() => server?.close());

const GREEDY = { model: MODEL_ID, temperature: 0 } as const;

test('a stateless client resending its history gets cached_tokens > 0', async () => {
  const messages = [
    { role: 'system' as const, content: 'You are a helpful assistant who tells stories to children.' },
    { role: 'user' as const, content: 'Tell me a story about a little red ball.' },
  ];
  const first = await server.client.chat.completions.create({ ...GREEDY, messages, max_tokens: 20 });
  const reply = first.choices[0]!.message.content!;
  assert.ok(reply.length > 0);
  assert.equal(first.object, 'chat.completion');
  assert.equal(first.choices[0]!.finish_reason, 'length');
  assert.equal(first.usage!.completion_tokens, 20);

  const second = await server.client.chat.completions.create({
    ...GREEDY,
    messages: [...messages, { role: 'assistant', content: reply }, { role: 'user', content: [{ type: 'text', text: 'What happened next?' }] }],
    max_tokens: 20,
  });
  const usage = second.usage!;
  assert.ok(usage.prompt_tokens_details!.cached_tokens! > 0, 'the resent history was found in the prefix cache');
  assert.ok(usage.prompt_tokens_details!.cached_tokens! >= first.usage!.prompt_tokens - 16, 'every full block of the first prompt');
  const pensieve = (usage as unknown as { pensieve: Record<string, number> }).pensieve;
  assert.equal(pensieve.cached_tokens, usage.prompt_tokens_details!.cached_tokens);
  assert.equal(pensieve.computed_prompt_tokens, usage.prompt_tokens - pensieve.cached_tokens!);
});

test('streamed chat chunks assemble to the non-streamed reply, then usage, then [DONE]', async () => {
  const request = { ...GREEDY, messages: [{ role: 'user' as const, content: 'Once upon a time' }], max_tokens: 24 };
  const whole = await server.client.chat.completions.create(request);

  const stream = await server.client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.equal(text, whole.choices[0]!.message.content);
  const finish = chunks.at(-2)!;
  assert.equal(finish.choices[0]!.finish_reason, whole.choices[0]!.finish_reason);
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage!.completion_tokens, whole.usage!.completion_tokens);
  assert.equal(last.usage!.prompt_tokens, whole.usage!.prompt_tokens);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id));

  // The raw stream ends with the [DONE] sentinel (the client swallows it).
  const res = await fetch(`${server.origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...request, stream: true }),
  });
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  const raw = await res.text();
  assert.ok(raw.endsWith('data: [DONE]\n\n'));
  assert.ok(!raw.includes('"usage"'), 'no usage without include_usage');
});

test('text completions take a string or token ids, streamed or not', async () => {
  const whole = await server.client.completions.create({ ...GREEDY, prompt: 'Once upon a time', max_tokens: 12 });
  assert.equal(whole.object, 'text_completion');
  assert.equal(whole.usage!.completion_tokens, 12);
  const text = whole.choices[0]!.text;
  assert.ok(text.length > 0);

  const asList = await server.client.completions.create({ ...GREEDY, prompt: ['Once upon a time'], max_tokens: 12 });
  assert.equal(asList.choices[0]!.text, text);

  const stream = await server.client.completions.create({ ...GREEDY, prompt: 'Once upon a time', max_tokens: 12, stream: true });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
  assert.equal(streamed, text);

  const ids = await server.client.completions.create({ ...GREEDY, prompt: [1, 403, 407, 261, 378], max_tokens: 4 });
  assert.equal(ids.usage!.prompt_tokens, 5);
  assert.equal(ids.usage!.completion_tokens, 4);
});

test('stop strings end the reply before them', async () => {
  const whole = await server.client.completions.create({ ...GREEDY, prompt: 'Once upon a time', max_tokens: 24 });
  const text = whole.choices[0]!.text;
  const word = text.trim().split(' ')[2]!;
  const stopped = await server.client.completions.create({ ...GREEDY, prompt: 'Once upon a time', max_tokens: 24, stop: [word] });
  assert.equal(stopped.choices[0]!.finish_reason, 'stop');
  assert.equal(stopped.choices[0]!.text, text.slice(0, text.indexOf(word)));
});
