// Fuzzing every route with malformed requests (fuzz-corpus.ts: a fixed corpus and seeded
// mutations, sent as raw HTTP): each one gets a 4xx, never a 5xx or a reset, with OpenAI's error
// body, and the server still answers /health after each.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fixedCases, mutatedCases, type FuzzCase, type FuzzIds } from './fuzz-corpus.js';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';
import { exchange } from './raw-http.js';

const KEY = 'sk-fuzz';
const SEED = 20261207;
const MUTATIONS = 120;

let server: TestServer;
let ids: FuzzIds;
before(async () => {
  server = await startServer({ apiKey: KEY });
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const conv = (await (await fetch(`${server.origin}/v1/conversations`, { method: 'POST', headers, body: JSON.stringify({ items: [{ role: 'user', content: 'Hello.' }] }) })).json()) as { id: string };
  const items = (await (await fetch(`${server.origin}/v1/conversations/${conv.id}/items`, { headers })).json()) as { data: { id: string }[] };
  const response = (await (await fetch(`${server.origin}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: MODEL_ID, input: 'Hi', max_output_tokens: 1 }) })).json()) as { id: string };
  ids = { key: KEY, model: MODEL_ID, conversation: conv.id, item: items.data[0]!.id, response: response.id };
});
after(() => server?.close());

function checkShape(body: string, what: string): void {
  let parsed: unknown;
  assert.doesNotThrow(() => (parsed = JSON.parse(body)), `${what}: body is not JSON: ${body.slice(0, 200)}`);
  const { error, ...rest } = parsed as { error?: Record<string, unknown> };
  assert.deepEqual(Object.keys(rest), [], `${what}: fields beside error`);
  assert.ok(error !== undefined && typeof error === 'object', `${what}: no error object`);
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'], what);
  assert.ok(typeof error.message === 'string' && error.message.length > 0, what);
  assert.ok(['invalid_request_error', 'requests', 'server_error'].includes(error.type as string), `${what}: type ${String(error.type)}`);
  assert.ok(error.param === null || typeof error.param === 'string', what);
  assert.ok(error.code === null || typeof error.code === 'string', what);
}

async function run(cases: FuzzCase[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (const c of cases) {
    const responses = await exchange(server.origin, c.data).catch((err: Error) => assert.fail(`${c.name}: ${err.message}`));
    assert.ok(responses.length >= 1, `${c.name}: no response`);
    for (const res of responses) {
      assert.ok(res.status >= 400 && res.status < 500, `${c.name}: status ${res.status} ${res.body.slice(0, 300)}`);
      checkShape(res.body, c.name);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    const health = await fetch(`${server.origin}/health`);
    assert.equal(health.status, 200, `/health after ${c.name}`);
    await health.arrayBuffer();
  }
  return statuses;
}

test('the fixed corpus: every malformed request is a 4xx in the OpenAI shape', async () => {
  const cases = fixedCases(ids);
  const statuses = await run(cases);
  console.log(`fixed corpus: ${cases.length} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
});

test('seeded mutations of valid bodies: every one is a 4xx in the OpenAI shape', async () => {
  const cases = mutatedCases(ids, SEED, MUTATIONS);
  const statuses = await run(cases);
  console.log(`mutations (seed ${SEED}): ${cases.length} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  // The conversation and response the corpus aimed at are intact.
  const conv = await fetch(`${server.origin}/v1/conversations/${ids.conversation}/items`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(((await conv.json()) as { data: unknown[] }).data.length, 1);
});
