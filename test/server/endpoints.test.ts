// The small endpoints: /health, /v1/models (the engine's model id), and /metrics with vLLM's
// metric names under pensieve_; and the log line each request leaves.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

test('/health answers 200', async () => {
  const res = await fetch(`${server.origin}/health`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { status: string }).status, 'ok');
});

test('/v1/models lists the engine\'s model', async () => {
  const models = await server.client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [server.engine.model.id]);
  assert.equal(server.engine.model.id, MODEL_ID);
  const model = await server.client.models.retrieve(MODEL_ID);
  assert.equal(model.object, 'model');
  assert.equal((model as unknown as { max_model_len: number }).max_model_len, 2048);
});

test('/metrics exposes the engine and latency metrics after a request', async () => {
  await server.client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, temperature: 0 });
  const res = await fetch(`${server.origin}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain/);
  const body = await res.text();
  for (const name of [
    'pensieve_num_requests_running',
    'pensieve_num_requests_waiting',
    'pensieve_kv_cache_usage_perc',
    'pensieve_prefix_cache_queries_total',
    'pensieve_prefix_cache_hits_total',
    'pensieve_prompt_tokens_total',
    'pensieve_generation_tokens_total',
    'pensieve_recomputed_tokens_total',
    'pensieve_preemptions_total',
    'pensieve_time_to_first_token_seconds_bucket',
    'pensieve_inter_token_latency_seconds_bucket',
    'pensieve_cache_served_tokens_total',
    'pensieve_kv_swapped_bytes_total',
    'pensieve_kv_tier_used_bytes',
    'pensieve_kv_tier_capacity_bytes',
    'pensieve_kv_disk_errors_total',
    'pensieve_kv_tier_chunks',
    'pensieve_kv_evicted_chunks_total',
    'pensieve_kv_staging_bytes',
    'pensieve_kv_disk_pending_ops',
  ]) {
    assert.match(body, new RegExp(`^${name}`, 'm'), name);
  }
  assert.match(body, /^pensieve_generation_tokens_total 5$/m);
  assert.match(body, /^pensieve_request_success_total\{finished_reason="length"\} 1$/m);
  assert.match(body, /^pensieve_time_to_first_token_seconds_count 1$/m);
  assert.match(body, /^pensieve_inter_token_latency_seconds_count 4$/m);
  assert.match(body, /^pensieve_kv_tier_capacity_bytes\{tier="device"\} [1-9]\d*$/m);
  // The Cost(l) profile the retention value divides, one series per profiled context length.
  assert.match(body, /^pensieve_chunk_recompute_cost_ms\{context_length="0"\} \d/m);
  // Where the steps spent their time: a request was served, so every phase ran and forward took time.
  for (const phase of ['schedule', 'transfers', 'forward']) assert.match(body, new RegExp(`^pensieve_engine_step_seconds_total\\{phase="${phase}"\\} \\d`, 'm'), phase);
  assert.match(body, /^pensieve_engine_step_seconds_total\{phase="forward"\} (0\.\d*[1-9]|[1-9])/m);
});

test('each request leaves one log line with its status, tokens and duration', async () => {
  await server.client.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 3, temperature: 0 });
  // time, request id, client address, then the request (see log-format.ts).
  const line = server.logLines.filter((l) => l.includes(' POST /v1/completions ')).at(-1);
  assert.match(line!, /^\d{4}-\d\d-\d\dT[\d:.]+Z \S+ 127\.0\.0\.1 POST \/v1\/completions 200 prompt=\d+ completion=3 cached=\d+ [\d.]+ms$/);
  assert.ok(server.logLines.some((l) => / GET \/health 200 [\d.]+ms$/.test(l)));
});
