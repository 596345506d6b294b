// The Conversations API and stored responses through the official client: objects shaped as
// OpenAI's, cursor pagination, item writes, and deletion.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ConversationItem } from 'openai/resources/conversations/items';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

function text(item: ConversationItem): string {
  assert.equal(item.type, 'message');
  const part = item.type === 'message' ? item.content[0] : undefined;
  return part !== undefined && 'text' in part ? part.text : '';
}

test('a conversation is created, read, updated and deleted', async () => {
  const { client } = server;
  const conv = await client.conversations.create({
    metadata: { user: 'u1' },
    items: [{ type: 'message', role: 'user', content: 'Hi!' }, { role: 'assistant', content: 'Hello.' }],
  });
  assert.match(conv.id, /^conv_/);
  assert.equal(conv.object, 'conversation');
  assert.deepEqual(conv.metadata, { user: 'u1' });
  assert.deepEqual(await client.conversations.retrieve(conv.id), conv);

  const updated = await client.conversations.update(conv.id, { metadata: { user: 'u2', topic: 'x' } });
  assert.deepEqual(updated.metadata, { user: 'u2', topic: 'x' });

  const items = await client.conversations.items.list(conv.id, { order: 'asc' });
  assert.deepEqual(items.data.map(text), ['Hi!', 'Hello.']);
  assert.deepEqual(items.data.map((i) => (i.type === 'message' ? [i.role, i.content[0]!.type, i.status] : [])), [
    ['user', 'input_text', 'completed'],
    ['assistant', 'output_text', 'completed'],
  ]);

  const deleted = await client.conversations.delete(conv.id);
  assert.deepEqual(deleted, { id: conv.id, object: 'conversation.deleted', deleted: true });
  await assert.rejects(client.conversations.retrieve(conv.id), { status: 404 });
});

test('items are added, listed page by page, fetched and deleted', async () => {
  const { client } = server;
  const conv = await client.conversations.create({});
  const added = await client.conversations.items.create(conv.id, {
    items: Array.from({ length: 5 }, (_, i) => ({ type: 'message' as const, role: 'user' as const, content: [{ type: 'input_text' as const, text: `m${i}` }] })),
  });
  assert.equal(added.object, 'list');
  assert.deepEqual(added.data.map(text), ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.equal(added.first_id, added.data[0]!.id);

  // Newest first by default; the client follows the after-cursor through every page.
  const page = await client.conversations.items.list(conv.id, { limit: 2 });
  assert.deepEqual(page.data.map(text), ['m4', 'm3']);
  assert.equal(page.has_more, true);
  const all: string[] = [];
  for await (const item of client.conversations.items.list(conv.id, { limit: 2, order: 'asc' })) all.push(text(item));
  assert.deepEqual(all, ['m0', 'm1', 'm2', 'm3', 'm4']);

  const second = added.data[1]!;
  const secondId = second.id!;
  assert.deepEqual(await client.conversations.items.retrieve(secondId, { conversation_id: conv.id }), second);
  const after = await client.conversations.items.delete(secondId, { conversation_id: conv.id });
  assert.equal(after.id, conv.id);
  assert.equal(after.object, 'conversation');
  await assert.rejects(client.conversations.items.retrieve(secondId, { conversation_id: conv.id }), { status: 404 });
  assert.equal((await client.conversations.items.list(conv.id)).data.length, 4);

  await assert.rejects(client.conversations.items.create(conv.id, { items: Array.from({ length: 21 }, () => ({ role: 'user' as const, content: 'x' })) }), {
    status: 400,
  });
});

test('a turn in a conversation that already has items renders them, and a stop string keeps no history', async () => {
  const { client } = server;
  const conv = await client.conversations.create({ items: [{ role: 'user', content: 'Tell me about a dog.' }] });
  const first = await client.responses.create({ model: MODEL_ID, conversation: conv.id, temperature: 0, max_output_tokens: 12 });
  assert.equal(first.conversation?.id, conv.id);
  assert.equal((await client.conversations.items.list(conv.id)).data.length, 2);
  assert.ok(server.store.getTokenHistory(null, conv.id)!.tokens.length > 0);

  const word = first.output_text.split(' ')[1]!;
  const stopped = await client.responses.create({
    model: MODEL_ID,
    conversation: conv.id,
    input: 'Tell me about a dog.',
    temperature: 0,
    max_output_tokens: 12,
    // vLLM-style extension on the Responses API.
    ...({ stop: [word] } as object),
  });
  assert.equal(stopped.status, 'completed');
  assert.ok(!stopped.output_text.includes(word));
  assert.equal(server.store.getTokenHistory(null, conv.id)!.tokens.length, 0, 'a stop string cut the sampled tokens: no history kept');

  const next = await client.responses.create({ model: MODEL_ID, conversation: conv.id, input: 'And then?', temperature: 0, max_output_tokens: 8 });
  assert.ok(next.usage!.input_tokens_details.cached_tokens > 0, 'the common prefix is still reused');
  assert.equal((await client.conversations.items.list(conv.id)).data.length, 6);
});

test('stored responses are fetched, listed by input item, and deleted', async () => {
  const { client } = server;
  const r = await client.responses.create({
    model: MODEL_ID,
    instructions: 'Be kind.',
    input: [{ role: 'user', content: 'One.' }, { role: 'user', content: [{ type: 'input_text', text: 'Two.' }] }],
    temperature: 0,
    max_output_tokens: 6,
    metadata: { run: 'a' },
  });
  assert.match(r.id, /^resp_/);
  assert.equal(r.object, 'response');
  assert.equal(r.instructions, 'Be kind.');
  assert.deepEqual(r.metadata, { run: 'a' });
  assert.equal(r.output[0]!.type, 'message');

  const got = await client.responses.retrieve(r.id);
  assert.equal(got.id, r.id);
  assert.equal(got.output_text, r.output_text);
  assert.deepEqual(got.usage, r.usage);

  const inputs = await client.responses.inputItems.list(r.id, { order: 'asc' });
  assert.deepEqual(inputs.data.map((i) => (i.type === 'message' && 'text' in i.content[0]! ? i.content[0].text : '')), ['One.', 'Two.']);

  await client.responses.delete(r.id);
  await assert.rejects(client.responses.retrieve(r.id), { status: 404 });
});
