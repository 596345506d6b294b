// A device KV pool smaller than the model's context: the server's context is capped to what the
// pool holds for one request (or refused at start-up when asked for more), and every prompt past
// it — a chat completion, a completion, a Responses chain that grew — is a 400
// context_length_exceeded, never a 500 from a request the pool could not hold.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { EngineClient } from '../../src/engine/client.js';
import { resolveMaxModelLen } from '../../src/engine/engine.js';
import { buildServer } from '../../src/server/app.js';
import { Store } from '../../src/store/index.js';
import { MODEL_ID, engineOptions, post } from './helpers.js';

test('resolveMaxModelLen: the default is capped to the pool with a warning; an explicit limit past it is refused', () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.equal(resolveMaxModelLen({ warn }, 512, 4096), 512);
  assert.equal(warnings.length, 0);
  assert.equal(resolveMaxModelLen({ warn }, 512, 128), 128);
  assert.match(warnings[0]!, /holds 128 tokens, less than the model's context of 512/);
  assert.equal(resolveMaxModelLen({ maxModelLen: 100, warn }, 512, 128), 100);
  assert.throws(() => resolveMaxModelLen({ maxModelLen: 200 }, 512, 128), /does not fit the KV cache.*at most 128/);
  assert.throws(() => resolveMaxModelLen({ maxModelLen: 1024 }, 512, 4096), /more than the model's context of 512/);
});

test('an explicit --max-model-len the KV pool cannot hold stops the engine from starting', async () => {
  await assert.rejects(
    EngineClient.start({ ...engineOptions('pensieve'), kvCacheMemory: 160 << 10, maxModelLen: 500 }),
    /does not fit the KV cache/,
  );
});

let app: FastifyInstance;
let engine: EngineClient;
let store: Store;
let dataDir: string;
let origin: string;
const warnings: string[] = [];

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'pensieve-ctx-'));
  // A pool of a few blocks, far below stories260K's 2048 positions.
  engine = await EngineClient.start({ ...engineOptions('pensieve'), kvCacheMemory: 160 << 10 }, { onWarning: (m) => warnings.push(m) });
  store = Store.open(dataDir);
  app = buildServer({ engine, store, maxQueuedRequests: 16 });
  origin = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app?.close();
  await engine?.close();
  store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the context is capped to the pool, with a warning, and /v1/models reports it', async () => {
  const m = engine.model;
  const pool = m.kvCacheBlocks * m.blockSize;
  assert.ok(pool < 512, `pool of ${pool} tokens`);
  assert.equal(m.contextLength, pool);
  assert.ok(warnings.some((w) => w.includes(`holds ${pool} tokens`)), warnings.join('\n'));
  const models = (await (await fetch(`${origin}/v1/models/${MODEL_ID}`)).json()) as { max_model_len: number };
  assert.equal(models.max_model_len, pool);
});

test('a reply that would outgrow the pool ends with finish_reason length, not a 500', async () => {
  const res = await post(origin, '/v1/chat/completions', {
    model: MODEL_ID, messages: [{ role: 'user', content: 'Once upon a time' }], ignore_eos: true, temperature: 0,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const body = res.body as unknown as { choices: Array<{ finish_reason: string }>; usage: { prompt_tokens: number; completion_tokens: number } };
  assert.equal(body.choices[0]!.finish_reason, 'length');
  assert.equal(body.usage.prompt_tokens + body.usage.completion_tokens, engine.model.contextLength);
});

test('prompts past the context are 400 context_length_exceeded on every route', async () => {
  const long = 'Once upon a time there was a little girl. '.repeat(40);
  const chat = await post(origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: long }], max_tokens: 4 });
  assert.equal(chat.status, 400, JSON.stringify(chat.body));
  assert.equal(chat.body.error.code, 'context_length_exceeded');
  assert.equal(chat.body.error.param, 'messages');
  const completion = await post(origin, '/v1/completions', { model: MODEL_ID, prompt: long, max_tokens: 4 });
  assert.equal(completion.status, 400);
  assert.equal(completion.body.error.code, 'context_length_exceeded');
  assert.equal(completion.body.error.param, 'prompt');
  const response = await post(origin, '/v1/responses', { model: MODEL_ID, input: long, max_output_tokens: 4 });
  assert.equal(response.status, 400);
  assert.equal(response.body.error.code, 'context_length_exceeded');
  assert.equal(response.body.error.param, 'input');
});

test('a Responses chain that grows past the context gets a 400, never a 500, and the chain stays usable', async () => {
  let previous: string | null = null;
  let refused = false;
  for (let turn = 0; turn < 40 && !refused; turn++) {
    for (const stream of [false, true]) {
      const body = { model: MODEL_ID, input: 'Tell me more about the little girl.', max_output_tokens: 12, ignore_eos: true, temperature: 0, stream };
      const res = await fetch(`${origin}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(previous === null ? body : { ...body, previous_response_id: previous }),
      });
      assert.ok(res.status === 200 || res.status === 400, `turn ${turn}: status ${res.status}`);
      if (res.status === 400) {
        const err = (await res.json()) as { error: { code: string; param: string } };
        assert.equal(err.error.code, 'context_length_exceeded');
        assert.equal(err.error.param, 'input');
        refused = true;
        break;
      }
      if (stream) {
        await res.text();
      } else {
        const r = (await res.json()) as { id: string; status: string };
        assert.ok(r.status === 'completed' || r.status === 'incomplete', r.status);
        previous = r.id;
      }
    }
  }
  assert.ok(refused, 'the chain reached the context limit');
  // What came before is untouched: a short stateless request still runs.
  const ok = await post(origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
  assert.equal(ok.status, 200);
});
