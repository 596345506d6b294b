// The server's half of affinity routing: every response and conversation id of a chain carries
// the chain's routing key (store/ids.ts). A new chain takes the key HAProxy sent in
// X-Pensieve-Route-Key (a malformed one is ignored), a continued chain its parent's, a turn in a
// conversation the conversation's; and with --replica-name every response says which replica
// answered.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { buildServer } from '../../src/server/app.js';
import { routeKeyOf, Store } from '../../src/store/index.js';
import { MODEL_ID, post, startServer, type TestServer } from './helpers.js';

const KEY = '0123456789abcdef';
const OTHER = 'fedcba9876543210';
const turn = (extra: Record<string, unknown>) => ({ model: MODEL_ID, input: 'Once upon a time', max_output_tokens: 2, temperature: 0, ...extra });

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
});

async function respond(extra: Record<string, unknown>, headers: Record<string, string> = {}): Promise<string> {
  const res = await post(server.origin, '/v1/responses', turn(extra), headers);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.id as string;
}

test('a new chain takes the key of X-Pensieve-Route-Key, and every turn after it keeps that key', async () => {
  const first = await respond({}, { 'x-pensieve-route-key': KEY });
  assert.equal(routeKeyOf(first), KEY);
  // The parent's key wins over whatever key the header brings.
  const second = await respond({ previous_response_id: first }, { 'x-pensieve-route-key': OTHER });
  const third = await respond({ previous_response_id: second });
  assert.equal(routeKeyOf(second), KEY);
  assert.equal(routeKeyOf(third), KEY);
  assert.equal(new Set([first, second, third]).size, 3);
});

test('without a header (or with a malformed one) a new chain gets a random key', async () => {
  const keys = new Set<string | undefined>();
  for (const header of [undefined, 'ABCDEF0123456789', '0123', 'not hex at all!!', `${KEY}0`]) {
    const id = await respond({}, header === undefined ? {} : { 'x-pensieve-route-key': header });
    assert.match(id, /^resp_[0-9a-f]{48}$/);
    keys.add(routeKeyOf(id));
  }
  assert.equal(keys.size, 5);
  assert.ok(!keys.has(KEY));
});

test('a conversation takes the header key, and responses in it take the conversation key', async () => {
  const created = await post(server.origin, '/v1/conversations', {}, { 'x-pensieve-route-key': KEY });
  assert.equal(created.status, 200);
  const conv = created.body.id as string;
  assert.equal(routeKeyOf(conv), KEY);
  const inIt = await respond({ conversation: conv }, { 'x-pensieve-route-key': OTHER });
  const asObject = await respond({ conversation: { id: conv } });
  assert.equal(routeKeyOf(inIt), KEY);
  assert.equal(routeKeyOf(asObject), KEY);

  const unnamed = (await post(server.origin, '/v1/conversations', {})).body.id as string;
  assert.match(unnamed, /^conv_[0-9a-f]{48}$/);
  assert.notEqual(routeKeyOf(unnamed), KEY);
});

test('with a replica name every response carries X-Pensieve-Replica, even before the model is loaded', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pensieve-replica-'));
  const store = Store.open(dir);
  const app = buildServer({ store, maxQueuedRequests: 1, replicaName: 'r7' });
  t.after(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  for (const url of ['/health', '/v1/models', '/no/such/route']) {
    const res = await fetch(`${origin}${url}`);
    await res.body?.cancel();
    assert.equal(res.headers.get('x-pensieve-replica'), 'r7', url);
  }
  assert.throws(() => buildServer({ store, maxQueuedRequests: 1, replicaName: 'bad name' }), /replica name/);
});
