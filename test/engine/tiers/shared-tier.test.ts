// The KV tier shared by replicas, on a real redis-server and the real tiny model: a
// conversation served by one engine and drained moves to another engine with an empty disk,
// which restores its history from Redis (greedy output equal to a stateless recomputation,
// its cached tokens counted as the shared tier's); a corrupt value is discarded, counted and
// recomputed; with Redis down from the start, frozen past the timeout, or killed mid-way and
// restarted, every request still succeeds (recomputing), and the engine reconnects.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Engine, EngineOptions } from '../../../src/engine/engine.js';
import { GREEDY } from '../../../src/engine/sampler.js';
import type { LoadedModel } from '../../../src/model/load.js';
import { randomInt } from '../../helpers/random.js';
import { NO_REDIS, startRedis, type RedisServer } from '../../helpers/redis.js';
import { drain, loadStories, statelessOutputs, tempDir, tieredEngine, type Finish } from './helpers.js';

let model: LoadedModel;
let redis: RedisServer;
let admin: Redis;

before(async () => {
  if (NO_REDIS) return;
  model = await loadStories();
  redis = await startRedis();
  admin = new Redis(redis.url, { lazyConnect: true });
  admin.on('error', () => {}); // the server is killed on purpose below
  await admin.connect();
});

after(async () => {
  if (NO_REDIS) return;
  admin.disconnect();
  await redis.stop();
});

// The test's own client may flush; Pensieve never deletes in bulk.
beforeEach(async () => {
  if (NO_REDIS) return;
  if (admin.status !== 'ready') await admin.connect().catch(() => {});
  await admin.flushall();
});

const tokens = (n: number, seed: number) => {
  const r = randomInt(seed);
  return Array.from({ length: n }, () => 10 + r(490));
};

const TIERS = { deviceBlocks: 48, hostChunks: 2, diskChunks: 64 };
const FIXED = { chunkCost: (l: number) => 1 + l / 32 };

function replica(extra: Partial<Omit<EngineOptions, 'kvDType'>> = {}, warnings: string[] = [], tiers: Partial<typeof TIERS> = {}): Engine {
  return tieredEngine(model, { ...TIERS, ...tiers, diskDir: tempDir('pensieve-shared-') }, { ...FIXED, sharedKv: redis.url, warn: (m) => warnings.push(m), ...extra });
}

async function one(e: Engine, id: string, prompt: number[], conversationId: string | null, maxTokens = 6): Promise<Finish> {
  e.add({ id, promptTokens: prompt, conversationId, sampling: GREEDY, maxTokens });
  const done = await drain(e);
  return done.get(id)!;
}

/** Serves `turns` turns of a conversation; returns the tokens of its history (prompt and reply of the last turn). */
async function converse(e: Engine, conv: string, turns: number, seed: number): Promise<number[]> {
  let history: number[] = [];
  for (let t = 0; t < turns; t++) {
    const prompt = [...history, ...tokens(37, seed + t)];
    const got = await one(e, `${conv}${t}`, prompt, conv);
    history = [...prompt, ...got.outputTokens];
  }
  return history;
}

/** Waits until the engine's writes to the shared tier are done (they run on the event loop). */
async function writesSettle(e: Engine): Promise<void> {
  for (let i = 0; i < 400 && e.stats().shared!.pendingWrites > 0; i++) await sleep(5);
  assert.equal(e.stats().shared!.pendingWrites, 0, 'the shared tier writes finished');
}

test('a conversation drained from one engine restores from the shared tier on another, with the same output', { skip: NO_REDIS }, async () => {
  // No host tier: idle chunks are copied to disk, so to Redis, ahead of time.
  const a = replica({ swapOutThreshold: 1 }, [], { hostChunks: 0 });
  const history = await converse(a, 'c', 4, 100);
  const kept = a.kv.conversation('c')!.tokens.length; // the last sampled token's KV was never computed
  assert.equal(kept, history.length - 1);
  for (let i = 0; i < 10; i++) a.step(); // idle steps: ahead-of-time copies
  await writesSettle(a);
  const ahead = a.stats().shared!;
  assert.ok(ahead.written > 0, `chunks reached Redis ahead of time (${JSON.stringify(ahead)})`);
  await a.close(); // drain
  const full = Math.floor(kept / 32);
  const sa = a.stats().shared!;
  assert.ok(sa.written + sa.skipped >= full, `every full chunk was sent (${JSON.stringify(sa)})`);
  assert.equal(sa.pendingWrites, 0);
  assert.ok((await admin.keys('pensieve:kv:*')).length >= full);

  // Another replica, empty disk, same Redis: the conversation moves there.
  const b = replica();
  const prompt = [...history, ...tokens(9, 200)];
  const got = await one(b, 'c4', prompt, 'c', 8);
  const [expected] = await statelessOutputs(model, [{ prompt, maxTokens: 8 }]);
  assert.deepEqual(got.outputTokens, expected);
  assert.equal(got.usage.cachedTokens, full * 32, 'every full chunk of the history was restored');
  assert.deepEqual(got.usage.cachedByTier, { device: 0, host: 0, disk: 0, shared: full * 32 });
  assert.equal(got.usage.recomputedTokens, 0);
  const sb = b.stats();
  assert.equal(sb.shared!.hits, full);
  assert.ok(sb.shared!.readBytes > 0);
  assert.equal(sb.shared!.corrupt, 0);
  assert.equal(sb.servedTokens.shared, full * 32);
  assert.equal(sb.cache.tiers.sharedTierChunks, full);

  // B's next turn runs from its own tiers: nothing more comes from Redis.
  const next = [...prompt, ...got.outputTokens, ...tokens(5, 201)];
  const got2 = await one(b, 'c5', next, 'c', 4);
  assert.deepEqual(got2.outputTokens, (await statelessOutputs(model, [{ prompt: next, maxTokens: 4 }]))[0]);
  assert.equal(got2.usage.cachedByTier.shared, 0);
  assert.ok(got2.usage.cachedTokens >= full * 32);

  // Draining B skips what Redis has already (content-addressed keys).
  await b.close();
  assert.ok(b.stats().shared!.skipped >= full, `B's drain skipped the chunks Redis had (${JSON.stringify(b.stats().shared)})`);
});

test('a corrupt value in the shared tier is discarded, counted and recomputed', { skip: NO_REDIS }, async () => {
  const a = replica();
  const history = await converse(a, 'd', 3, 300);
  const kept = a.kv.conversation('d')!.tokens.length;
  await a.close();
  const full = Math.floor(kept / 32);
  assert.ok(full >= 3);

  // Flip a payload byte of chunk 1's value.
  let victim: string | null = null;
  for (const key of await admin.keys('pensieve:kv:*')) {
    const value = (await admin.getBuffer(key))!;
    if (!value.subarray(0, 4096).toString('latin1').includes('"chunkIndex":1,')) continue;
    value[4096 + 77]! ^= 0x5a;
    await admin.set(key, value);
    victim = key;
  }
  assert.ok(victim !== null, 'chunk 1 is in Redis');

  const warnings: string[] = [];
  const b = replica({}, warnings);
  const prompt = [...history, ...tokens(6, 400)];
  const got = await one(b, 'd3', prompt, 'd', 8);
  assert.deepEqual(got.outputTokens, (await statelessOutputs(model, [{ prompt, maxTokens: 8 }]))[0]);
  const s = b.stats().shared!;
  assert.equal(s.corrupt, 1);
  assert.equal(s.hits, full - 1);
  assert.ok(warnings.some((w) => /checksum mismatch/.test(w)), warnings.join('; '));
  assert.equal(await admin.exists(victim), 0, 'the corrupt value was deleted, so a good copy can replace it');
  // Chunk 1 is recomputed in the same pass; the chunks around it still come from Redis.
  assert.equal(got.usage.recomputedTokens, 32);
  assert.equal(got.usage.cachedByTier.shared, (full - 1) * 32);
  await b.close();
  assert.equal(await admin.exists(victim), 1, 'B\'s drain wrote chunk 1 back');
});

test('with the shared tier unreachable, requests recompute and the engine closes in time', { skip: NO_REDIS }, async () => {
  const down = await startRedis();
  await down.stop();
  const warnings: string[] = [];
  const e = tieredEngine(model, { ...TIERS, diskDir: tempDir('pensieve-shared-down-') }, {
    ...FIXED, sharedKv: down.url, sharedKvTimeoutMs: 5000, swapOutThreshold: 1, warn: (m) => warnings.push(m),
  });
  const prompt = tokens(100, 500);
  const t0 = performance.now();
  const got = await one(e, 'x0', prompt, 'x');
  assert.ok(performance.now() - t0 < 2500, `a refused connection is not waited on for the whole timeout (${performance.now() - t0} ms)`);
  assert.deepEqual(got.outputTokens, (await statelessOutputs(model, [{ prompt, maxTokens: 6 }]))[0]);
  const s = e.stats().shared!;
  assert.equal(s.connected, false);
  assert.equal(s.lookups, 1);
  assert.equal(s.lookupErrors + s.lookupTimeouts, 1);
  assert.equal(s.hits, 0);
  const second = await one(e, 'x1', [...prompt, ...got.outputTokens, 5, 6, 7], 'x');
  assert.equal(second.outputTokens.length, 6);
  const t1 = performance.now();
  await e.close({ sharedDrainMs: 5000 });
  assert.ok(performance.now() - t1 < 2500, `close did not wait on a server known to be down (${performance.now() - t1} ms)`);
  const s2 = e.stats().shared!;
  assert.ok(s2.writeErrors > 0, 'the writes failed, counted');
  assert.equal(s2.written, 0);
  assert.equal(warnings.filter((w) => /unreachable/.test(w)).length, 1, `the outage was reported once: ${warnings.join('; ')}`);
});

test('a shared tier that does not answer in time is given up on: the request recomputes', { skip: NO_REDIS }, async () => {
  const a = replica();
  const history = await converse(a, 's', 2, 900);
  await a.close();
  const b = replica({ sharedKvTimeoutMs: 300 });
  assert.ok(b.stats().shared !== null);
  for (let i = 0; i < 500 && !b.stats().shared!.connected; i++) await sleep(10);
  assert.ok(b.stats().shared!.connected, 'connected before the server freezes');
  redis.pause();
  try {
    const prompt = [...history, ...tokens(5, 901)];
    const t0 = performance.now();
    const got = await one(b, 's2', prompt, 's', 4);
    const waited = performance.now() - t0;
    assert.ok(waited >= 250 && waited < 2000, `the request waited about the timeout (${waited} ms)`);
    assert.deepEqual(got.outputTokens, (await statelessOutputs(model, [{ prompt, maxTokens: 4 }]))[0]);
    assert.equal(got.usage.cachedByTier.shared, 0);
    assert.equal(b.stats().shared!.lookupTimeouts, 1);
    assert.equal(b.stats().shared!.lookupErrors, 0);
  } finally {
    redis.resume();
    await b.close({ persist: false });
  }
});

test('Redis killed mid-way: requests still succeed; once it is back, the engine uses it again', { skip: NO_REDIS }, async () => {
  const a = replica();
  const history = await converse(a, 'k', 2, 600);
  await redis.stop(true);
  // The home engine continues; a second engine gets the conversation moved: both recompute what Redis would have given.
  const prompt = [...history, ...tokens(11, 700)];
  const home = await one(a, 'k2', prompt, 'k', 5);
  const b = replica({ sharedKvTimeoutMs: 400 });
  const moved = await one(b, 'k2b', prompt, 'k', 5);
  const [expected] = await statelessOutputs(model, [{ prompt, maxTokens: 5 }]);
  assert.deepEqual(home.outputTokens, expected);
  assert.deepEqual(moved.outputTokens, expected);
  assert.equal(moved.usage.cachedByTier.shared, 0);
  assert.equal(moved.usage.cachedTokens, 0);
  await a.close({ sharedDrainMs: 300 });

  await redis.restart();
  for (let i = 0; i < 200 && !b.stats().shared!.connected; i++) await sleep(25);
  assert.ok(b.stats().shared!.connected, 'the engine reconnected');
  const before = b.stats().shared!;
  const other = await one(b, 'm0', tokens(70, 800), 'm', 3);
  assert.equal(other.outputTokens.length, 3);
  const after = b.stats().shared!;
  assert.equal(after.lookups - before.lookups, 1);
  assert.equal(after.lookupErrors + after.lookupTimeouts, before.lookupErrors + before.lookupTimeouts, 'the lookup was answered');
  await b.close();
  assert.ok((await admin.keys('pensieve:kv:*')).length > 0, 'B drained to the restarted server');
});
