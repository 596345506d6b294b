// `pensieve serve --shared-kv`: two servers (separate data directories, one Redis). The first
// serves a chat and is stopped with SIGTERM, which drains its KV to Redis; the second gets the
// chat's history resent and restores it from Redis: the reply equals a stateless server's,
// and its usage and /metrics name the shared tier as where the cached tokens came from.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { MODELS } from '../helpers/paths.js';
import { NO_REDIS, startRedis } from '../helpers/redis.js';
import { startServer, stopServer, type ServerProcess } from '../helpers/serve.js';

const MODEL = path.join(MODELS, 'stories260K', 'stories260K.gguf');
const TURNS = ['Tom had a little dog.', 'The dog liked to run in the park with Tom every day.', 'One day it rained and the park was wet and muddy.'];

type Message = { role: 'user' | 'assistant'; content: string };
type Usage = { prompt_tokens: number; pensieve: { cached_tokens_by_tier: Record<string, number> } };

async function reply(s: ServerProcess, messages: Message[]): Promise<{ text: string; usage: Usage }> {
  const c = new OpenAI({ baseURL: s.baseURL, apiKey: 'none' });
  const r = await c.chat.completions.create({ model: 'stories260K', messages, max_tokens: 12, temperature: 0 });
  return { text: r.choices[0]!.message.content ?? '', usage: r.usage as unknown as Usage };
}

test('a chat drained to Redis by one server is restored from it by another', { skip: NO_REDIS }, async (t) => {
  const redis = await startRedis();
  const dirs = ['a', 'b', 'ref'].map((n) => fs.mkdtempSync(path.join(os.tmpdir(), `pensieve-shared-kv-${n}-`)));
  t.after(async () => {
    await redis.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const shared = ['--model', MODEL, '--shared-kv', redis.url, '--kv-cache-memory', '8M', '--kv-host-memory', '1M', '--kv-disk-space', '16M'];

  const a = await startServer([...shared, '--data-dir', dirs[0]!]);
  const messages: Message[] = [];
  try {
    for (const turn of TURNS) {
      messages.push({ role: 'user', content: turn });
      messages.push({ role: 'assistant', content: (await reply(a, messages)).text });
    }
  } finally {
    assert.equal(await stopServer(a, 'SIGTERM'), 0, a.stderr());
  }
  const admin = new Redis(redis.url);
  const keys = await admin.keys('pensieve:kv:*');
  admin.disconnect();
  assert.ok(keys.length > 0, 'the drain wrote chunks to Redis');

  messages.push({ role: 'user', content: 'Tom and the dog went home.' });
  const b = await startServer([...shared, '--data-dir', dirs[1]!]);
  let moved: { text: string; usage: Usage };
  let metrics: string;
  try {
    moved = await reply(b, messages);
    metrics = await (await fetch(new URL('/metrics', b.baseURL.replace(/\/v1$/, '/')))).text();
  } finally {
    await stopServer(b);
  }
  const ref = await startServer(['--model', MODEL, '--cache-mode', 'stateless', '--data-dir', dirs[2]!]);
  try {
    assert.equal(moved.text, (await reply(ref, messages)).text, 'the same greedy reply as a stateless server');
  } finally {
    await stopServer(ref);
  }
  const byTier = moved.usage.pensieve.cached_tokens_by_tier;
  assert.ok(byTier.shared! >= 32, `cached tokens came from the shared tier: ${JSON.stringify(byTier)}`);
  assert.equal(byTier.disk, 0);
  assert.match(metrics, /pensieve_kv_shared_chunks_total\{result="hit"\} [1-9]/);
  assert.match(metrics, /pensieve_cache_served_tokens_total\{tier="shared"\} [1-9]/);
});
