// Several API keys, one tenant each: what one tenant creates (conversations, their items,
// responses) is a 404 to every other tenant on every route, exactly like an id that does not
// exist, and previous_response_id / conversation cannot reach it either. Keys that share a name
// share a tenant.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MODEL_ID, startServer, type ErrorShape, type TestServer } from './helpers.js';

const ALICE = 'sk-alice-1';
const ALICE_2 = 'sk-alice-2';
const BOB = 'sk-bob';
const UNNAMED = 'sk-unnamed';

let server: TestServer;
before(async () => {
  server = await startServer({
    apiKeys: [
      { key: ALICE, name: 'alice' },
      { key: BOB, name: 'bob' },
      { key: ALICE_2, name: 'alice' },
      { key: UNNAMED, name: null },
    ],
  });
});
after(() => server?.close());

interface Answer {
  status: number;
  body: Record<string, unknown> & Partial<ErrorShape>;
}

async function call(key: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${server.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** What alice made: a conversation with items and a turn, and a chain of two stored responses. */
interface Made {
  conv: string;
  item: string;
  resp: string;
  convResp: string;
}

async function aliceMakes(): Promise<Made> {
  const conv = await call(ALICE, 'POST', '/v1/conversations', { metadata: { owner: 'alice' }, items: [{ role: 'user', content: 'Hello.' }] });
  assert.equal(conv.status, 200, JSON.stringify(conv.body));
  const convId = conv.body.id as string;
  const added = await call(ALICE, 'POST', `/v1/conversations/${convId}/items`, { items: [{ role: 'user', content: 'More.' }] });
  assert.equal(added.status, 200);
  const item = (added.body.data as { id: string }[])[0]!.id;
  const turn = { model: MODEL_ID, max_output_tokens: 2, temperature: 0 };
  const first = await call(ALICE, 'POST', '/v1/responses', { ...turn, input: 'Once upon a time' });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const second = await call(ALICE, 'POST', '/v1/responses', { ...turn, input: 'And then', previous_response_id: first.body.id });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  const inConv = await call(ALICE, 'POST', '/v1/responses', { ...turn, input: 'Go on', conversation: convId });
  assert.equal(inConv.status, 200, JSON.stringify(inConv.body));
  return { conv: convId, item, resp: second.body.id as string, convResp: inConv.body.id as string };
}

/** Every route that takes an id, as [method, path, body]: what another tenant will try. */
function attempts(m: Made): [string, string, unknown][] {
  return [
    ['GET', `/v1/conversations/${m.conv}`, undefined],
    ['POST', `/v1/conversations/${m.conv}`, { metadata: { owner: 'mallory' } }],
    ['GET', `/v1/conversations/${m.conv}/items`, undefined],
    ['POST', `/v1/conversations/${m.conv}/items`, { items: [{ role: 'user', content: 'injected' }] }],
    ['GET', `/v1/conversations/${m.conv}/items/${m.item}`, undefined],
    ['DELETE', `/v1/conversations/${m.conv}/items/${m.item}`, undefined],
    ['GET', `/v1/responses/${m.resp}`, undefined],
    ['GET', `/v1/responses/${m.resp}/input_items`, undefined],
    ['GET', `/v1/responses/${m.convResp}`, undefined],
    ['POST', '/v1/responses', { model: MODEL_ID, input: 'x', max_output_tokens: 2, previous_response_id: m.resp }],
    ['POST', '/v1/responses', { model: MODEL_ID, input: 'x', max_output_tokens: 2, conversation: m.conv }],
    ['POST', '/v1/responses', { model: MODEL_ID, input: 'x', max_output_tokens: 2, conversation: { id: m.conv } }],
    ['DELETE', `/v1/responses/${m.resp}`, undefined],
    ['DELETE', `/v1/responses/${m.convResp}`, undefined],
    ['DELETE', `/v1/conversations/${m.conv}`, undefined],
  ];
}

// The same ids, never created: what "does not exist" looks like.
const NOBODY: Made = { conv: 'conv_0000', item: 'msg_0000', resp: 'resp_0000', convResp: 'resp_0001' };

test("another tenant's ids are 404s on every route, the same 404s as ids that never existed", async () => {
  const made = await aliceMakes();
  const absent = attempts(NOBODY);
  for (const key of [BOB, UNNAMED]) {
    for (const [i, [method, path, body]] of attempts(made).entries()) {
      const got = await call(key, method, path, body);
      const never = await call(key, absent[i]![0], absent[i]![1], absent[i]![2]);
      const what = `${key} ${method} ${path}`;
      assert.equal(got.status, 404, `${what}: ${JSON.stringify(got.body)}`);
      assert.equal(never.status, 404, `${what} (never created): ${JSON.stringify(never.body)}`);
      assert.equal(got.body.error?.code, never.body.error?.code, what);
      assert.equal(got.body.error?.param, never.body.error?.param, what);
      assert.equal(got.body.error?.type, never.body.error?.type, what);
    }
  }
  // None of that touched alice's data: her other key sees all of it, unchanged.
  const conv = await call(ALICE_2, 'GET', `/v1/conversations/${made.conv}`);
  assert.deepEqual(conv.body.metadata, { owner: 'alice' });
  const items = await call(ALICE_2, 'GET', `/v1/conversations/${made.conv}/items?order=asc`);
  assert.deepEqual((items.body.data as { content: { text: string }[] }[]).map((i) => i.content[0]!.text).slice(0, 3), ['Hello.', 'More.', 'Go on']);
  assert.equal((items.body.data as unknown[]).length, 4);
  assert.equal((await call(ALICE_2, 'GET', `/v1/responses/${made.resp}`)).status, 200);
  assert.equal((await call(ALICE_2, 'GET', `/v1/responses/${made.convResp}`)).status, 200);
  const next = await call(ALICE_2, 'POST', '/v1/responses', { model: MODEL_ID, input: 'x', max_output_tokens: 2, previous_response_id: made.resp });
  assert.equal(next.status, 200, JSON.stringify(next.body));
  // And her deletes work, once.
  assert.equal((await call(ALICE, 'DELETE', `/v1/responses/${made.resp}`)).status, 200);
  assert.equal((await call(ALICE, 'DELETE', `/v1/conversations/${made.conv}`)).status, 200);
  assert.equal((await call(ALICE_2, 'GET', `/v1/conversations/${made.conv}`)).status, 404);
});

test("each tenant sees its own and nobody else's", async () => {
  const bobs = await call(BOB, 'POST', '/v1/conversations', {});
  const unnamed = await call(UNNAMED, 'POST', '/v1/conversations', {});
  const alices = await call(ALICE, 'POST', '/v1/conversations', {});
  const ids: Record<string, string> = { [BOB]: bobs.body.id as string, [UNNAMED]: unnamed.body.id as string, [ALICE]: alices.body.id as string, [ALICE_2]: alices.body.id as string };
  for (const reader of [ALICE, ALICE_2, BOB, UNNAMED]) {
    for (const [owner, id] of Object.entries(ids)) {
      const visible = ids[reader] === id;
      assert.equal((await call(reader, 'GET', `/v1/conversations/${id}`)).status, visible ? 200 : 404, `${reader} reads ${owner}'s`);
    }
  }
  // What the store recorded as owners: names, or the unnamed key's digest (never the key).
  assert.equal(server.store.getConversation('bob', bobs.body.id as string)?.id, bobs.body.id);
  assert.equal(server.store.getConversation(null, bobs.body.id as string), undefined);
  const digest = createHash('sha256').update(UNNAMED).digest('hex');
  assert.equal(server.store.getConversation(`sha256:${digest}`, ids[UNNAMED]!)?.id, ids[UNNAMED]);
});
