// GET / tells a visitor where the API is: name, version, the /v1 base an OpenAI client takes,
// and that base works.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

test('GET / names the server and points at the /v1 API', async () => {
  const res = await fetch(`${server.origin}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string };
  assert.equal(body.name, 'pensieve');
  assert.equal(body.version, pkg.version);
  assert.equal(body.model, MODEL_ID);
  assert.equal(body.api_base, `${server.origin}/v1`);
  assert.ok(Array.isArray(body.endpoints) && body.endpoints.includes('/v1/chat/completions'));
  assert.equal(typeof body.docs, 'string');
  // The advertised base is the one the API answers on.
  const models = await fetch(`${body.api_base as string}/models`);
  assert.equal(models.status, 200);
});
