// serve's key flags: `--api-keys FILE` gives the keys the server takes, each its tenant's; a
// file that would leave the server open (empty, unreadable, malformed) stops it before it
// starts; one key comes from --api-key or PENSIEVE_API_KEY. --metrics-public opens /metrics alone.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { serverKeys } from '../../src/cli/auth-flags.js';
import { MODELS } from '../helpers/paths.js';
import { startServer, stopServer } from '../helpers/serve.js';

const MODEL = path.join(MODELS, 'stories260K', 'stories260K.gguf');

test('a key file that would leave the server open stops serve before it starts', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-keys-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const empty = path.join(dir, 'empty.txt');
  fs.writeFileSync(empty, '# nobody yet\n');
  assert.throws(() => serverKeys({ apiKeysFile: empty }, {}), /no API keys in the file/);
  assert.throws(() => serverKeys({ apiKeysFile: path.join(dir, 'missing.txt') }, {}), /--api-keys .*missing\.txt/);
  const one = path.join(dir, 'one.txt');
  fs.writeFileSync(one, 'sk-one\n');
  assert.deepEqual(serverKeys({ apiKeysFile: one }, {}), { apiKeys: [{ key: 'sk-one', name: null }] });
  assert.throws(() => serverKeys({ apiKeysFile: one }, { PENSIEVE_API_KEY: 'sk-env' }), /--api-keys and PENSIEVE_API_KEY cannot be used together/);
  assert.throws(() => serverKeys({ apiKeysFile: one, apiKey: 'sk-flag' }, {}), /--api-keys and --api-key cannot be used together/);
  assert.deepEqual(serverKeys({}, { PENSIEVE_API_KEY: 'sk-env' }), { apiKey: 'sk-env' });
  assert.deepEqual(serverKeys({ apiKey: 'sk-flag' }, { PENSIEVE_API_KEY: 'sk-env' }), { apiKey: 'sk-flag' });
  assert.deepEqual(serverKeys({}, {}), {});
});

test('serve --api-keys takes each key in the file and no other; --metrics-public opens /metrics', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-keys-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const keys = path.join(dir, 'keys.txt');
  fs.writeFileSync(keys, '# test tenants\nsk-alice alice\nsk-bob bob\n');
  const server = await startServer(['--model', MODEL, '--data-dir', path.join(dir, 'data'), '--api-keys', keys, '--metrics-public'], { PENSIEVE_API_KEY: '' });
  t.after(() => stopServer(server));
  const origin = server.baseURL.replace(/\/v1$/, '');
  const get = (p: string, key?: string) => fetch(`${origin}${p}`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  assert.equal((await get('/v1/models', 'sk-alice')).status, 200);
  assert.equal((await get('/v1/models', 'sk-bob')).status, 200);
  assert.equal((await get('/v1/models', 'sk-carol')).status, 401);
  assert.equal((await get('/v1/models')).status, 401);
  assert.equal((await get('/metrics')).status, 200);
  const created = await fetch(`${origin}/v1/conversations`, { method: 'POST', headers: { authorization: 'Bearer sk-alice', 'content-type': 'application/json' }, body: '{}' });
  const { id } = (await created.json()) as { id: string };
  assert.equal((await get(`/v1/conversations/${id}`, 'sk-alice')).status, 200);
  assert.equal((await get(`/v1/conversations/${id}`, 'sk-bob')).status, 404);
});
