// The web page's routes without a browser: GET / answers a browser with the page and everyone
// else with the JSON index (which still needs the key), the page's files are public and nothing
// else is, and GET /v1/pensieve/cache is guarded like /v1, matches its schema, and shows each
// tenant only its own conversations, each with its chunks by tier.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cacheViewSchema } from '../../../src/server/cache-view.js';
import { MODEL_ID, startServer, type TestServer } from '../helpers.js';

const A = 'sk-tenant-a';
const B = 'sk-tenant-b';
const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

let server: TestServer;
before(async () => {
  server = await startServer({ apiKeys: [{ key: A, name: 'a' }, { key: B, name: 'b' }] });
});
after(() => server?.close());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function cacheView(key: string) {
  const res = await fetch(`${server.origin}/v1/pensieve/cache`, { headers: bearer(key) });
  assert.equal(res.status, 200);
  return cacheViewSchema.parse(await res.json());
}

test('GET / gives a browser the page without a key; the JSON index still needs one', async () => {
  const page = await fetch(`${server.origin}/`, { headers: HTML });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  assert.match(html, /<script type="module" src="\/ui\/app\.js"><\/script>/);
  assert.equal((await fetch(`${server.origin}/`)).status, 401);
  const index = await fetch(`${server.origin}/`, { headers: bearer(A) });
  assert.equal(index.status, 200);
  assert.equal(((await index.json()) as { model: string }).model, MODEL_ID);
});

test('the page\'s files are served by name, public, with their types; no other path is', async () => {
  for (const [file, type] of [['app.js', /^text\/javascript/], ['chat.js', /^text\/javascript/], ['style.css', /^text\/css/]] as const) {
    const res = await fetch(`${server.origin}/ui/${file}`);
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get('content-type') ?? '', type);
  }
  // Only names in the folder's listing are served: nothing reaches the file system from a path.
  for (const bad of ['', 'missing.js', '..%2Fweb-assets.ts', '..%2F..%2F..%2Fpackage.json', 'index.htm']) {
    assert.equal((await fetch(`${server.origin}/ui/${bad}`)).status, 404, bad);
  }
  assert.equal((await fetch(`${server.origin}/ui/a/b`)).status, 401, 'not a route: unknown paths need the key');
});

test('GET /v1/pensieve/cache needs the key, and shows a tenant its conversations\' layouts only', async () => {
  assert.equal((await fetch(`${server.origin}/v1/pensieve/cache`)).status, 401);
  const empty = await cacheView(A);
  assert.equal(empty.object, 'pensieve.cache');
  assert.ok(empty.tiers.device.capacity_chunks > 0);

  const first = await server.client.responses.create({ model: MODEL_ID, input: 'Once upon a time there was a cat.', max_output_tokens: 40, temperature: 0 });
  const second = await server.client.responses.create({ model: MODEL_ID, input: 'It ran away.', previous_response_id: first.id, max_output_tokens: 40, temperature: 0 });
  assert.equal(second.status === 'completed' || second.status === 'incomplete', true);

  const mine = await cacheView(A);
  const conv = mine.conversations.find((c) => c.id === first.id);
  assert.ok(conv !== undefined, `the chain, named by its first response: ${JSON.stringify(mine.conversations)}`);
  const chunks = conv.chunks.dropped + conv.chunks.disk + conv.chunks.host + conv.chunks.device;
  assert.equal(chunks, Math.ceil(conv.tokens / mine.chunk_tokens));
  assert.equal(conv.chunks.device, chunks, 'a 64 MiB device tier keeps it all');
  assert.ok(conv.tokens > second.usage!.input_tokens, 'the history covers both turns');
  assert.equal(conv.active, false);
  assert.ok(mine.generated_tokens >= second.usage!.output_tokens);
  assert.ok(mine.cost_profile.length > 0);

  const theirs = await cacheView(B);
  assert.equal(theirs.conversations.find((c) => c.id === first.id), undefined);
});
