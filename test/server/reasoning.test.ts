// Reasoning models over HTTP: DeepSeek-R1's real template (from llama.cpp's tree; skipped where
// it is absent) opens a <think> block at the end of every generation prompt, so whatever the
// random stories260K model writes until </think> is reasoning: reasoning_content on the chat
// message and in stream deltas, a reasoning output item in the Responses API (streamed as
// reasoning_text events), and on the next turn the history is rendered the template's own way.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { MODEL_ID, post, startServer, type TestServer } from './helpers.js';

const R1_TEMPLATE = '/work/main/.pensieve/llama.cpp/models/templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja';

describe('DeepSeek-R1 template: the reply starts inside its think block', { skip: !existsSync(R1_TEMPLATE) && `no ${R1_TEMPLATE}` }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ chatTemplate: R1_TEMPLATE });
  });
  after(() => server?.close());

  test('chat: the text before </think> is reasoning_content, not content', async () => {
    const res = await post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'Why is the sky blue?' }], max_tokens: 24, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const message = (res.body.choices as Array<{ message: { content: string; reasoning_content?: string } }>)[0]!.message;
    assert.ok((message.reasoning_content ?? '').length > 0, JSON.stringify(message));
    assert.equal(message.content, '');
  });

  test('chat streamed: reasoning_content deltas join to the same reasoning as the whole reply', async () => {
    const body = { model: MODEL_ID, messages: [{ role: 'user' as const, content: 'Why is the sky blue?' }], max_tokens: 24, temperature: 0 };
    const whole = await post(server.origin, '/v1/chat/completions', body);
    const stream = await server.client.chat.completions.create({ ...body, stream: true });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? '';
      content += delta?.content ?? '';
    }
    assert.equal(content, '');
    assert.equal(reasoning, (whole.body.choices as Array<{ message: { reasoning_content: string } }>)[0]!.message.reasoning_content);
  });

  test('a resent assistant message with reasoning_content is accepted (the template drops it from history)', async () => {
    const res = await post(server.origin, '/v1/chat/completions', {
      model: MODEL_ID, max_tokens: 4, temperature: 0,
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello', reasoning_content: 'Greet back.' }, { role: 'user', content: 'Bye' }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  test('Responses: a reasoning output item, streamed as reasoning_text events; the chain continues', async () => {
    const stream = server.client.responses.stream({ model: MODEL_ID, input: 'Why is the sky blue?', max_output_tokens: 24, temperature: 0 });
    const types = new Set<string>();
    let deltas = '';
    for await (const ev of stream) {
      types.add(ev.type);
      if (ev.type === 'response.reasoning_text.delta') deltas += ev.delta;
    }
    const final = await stream.finalResponse();
    const item = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
    assert.equal(item.type, 'reasoning', JSON.stringify(final.output));
    assert.match(item.id, /^rs_/);
    assert.equal(item.content![0]!.text, deltas);
    assert.ok(deltas.length > 0);
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.reasoning_text.done', 'response.output_item.done']) assert.ok(types.has(t), t);
    const stored = await server.client.responses.retrieve(final.id);
    assert.deepEqual(stored.output, final.output);
    const next = await server.client.responses.create({ model: MODEL_ID, input: 'And at sunset?', previous_response_id: final.id, max_output_tokens: 4, temperature: 0 });
    assert.ok(['completed', 'incomplete'].includes(next.status!));
    assert.ok(next.usage!.input_tokens_details.cached_tokens > 0);
  });
});
