// A huge paste must not hurt anyone: measured on a real `pensieve serve` process. A 20 MB message
// gets its 400 context_length_exceeded in well under a second (refused by the token-count bound
// before any tokenizing), a small request running meanwhile keeps its latency, the server's RSS
// comes back to where it was, and a 70 MB body gets a readable 413 in OpenAI's shape, not a reset.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, stopServer, type ServerProcess } from '../helpers/serve.js';
import { MODEL_ID, STORIES } from './helpers.js';

let server: ServerProcess;
let origin: string;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'pensieve-large-'));
  server = await startServer([
    '--model', STORIES, '--data-dir', dataDir, '--kv-cache-memory', '16M', '--kv-host-memory', '0', '--kv-disk-space', '0',
    '--max-request-bytes', '64M',
  ]);
  origin = server.baseURL.replace(/\/v1$/, '');
});
after(async () => {
  if (server) await stopServer(server);
  rmSync(dataDir, { recursive: true, force: true });
});

/** The server process's resident memory, in bytes. */
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

// A short ordinary request: a 64-token reply.
const small = () => ({ model: MODEL_ID, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 64, ignore_eos: true, temperature: 0 });

async function timed(body: unknown): Promise<{ ms: number; status: number; json: Record<string, unknown> }> {
  const t0 = performance.now();
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  return { ms: performance.now() - t0, status: res.status, json };
}

/** POSTs ready bytes with node:http (fetch would spend the test's own time re-encoding 20 MB). */
function postBuffer(body: Buffer): Promise<{ ms: number; status: number; json: Record<string, unknown> }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function smallLatencies(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await timed(small());
    assert.equal(r.status, 200, JSON.stringify(r.json));
    out.push(r.ms);
  }
  return out;
}

test('a 20 MB message: 400 in under a second, small requests unhurt, memory given back', async () => {
  await smallLatencies(5); // warm up
  await sleep(300);
  const rssBefore = rss();

  const paste = 'All work and no play makes Jack a dull boy. '.repeat(Math.ceil(20e6 / 45));
  const body = Buffer.from(JSON.stringify({ ...small(), messages: [{ role: 'user', content: paste }] }));
  // Rounds that each time small requests alone, then small requests sent while the paste is in
  // flight; judged by medians, since this machine's neighbours can stall any single request,
  // and alternating keeps both measures under the same neighbours.
  const pasteMs: number[] = [];
  const unloaded: number[] = [];
  const loaded: number[] = [];
  for (let round = 0; round < 5; round++) {
    unloaded.push(...(await smallLatencies(2)));
    let inFlight = true;
    const bigDone = postBuffer(body).finally(() => (inFlight = false));
    await sleep(5); // the paste is on its way: the small requests run beside it
    do loaded.push(...(await smallLatencies(1)));
    while (inFlight);
    const big = await bigDone;
    assert.equal(big.status, 400, JSON.stringify(big.json).slice(0, 300));
    const error = (big.json as { error: { code: string; param: string; type: string } }).error;
    assert.equal(error.code, 'context_length_exceeded');
    assert.equal(error.param, 'messages');
    assert.equal(error.type, 'invalid_request_error');
    pasteMs.push(big.ms);
  }
  const show = (xs: number[]) => `median ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  process.stderr.write(`small requests alone: ${show(unloaded)}; beside the paste: ${show(loaded)}; paste refused in ${pasteMs.map((x) => x.toFixed(0)).join(', ')} ms\n`);
  assert.ok(median(pasteMs) < 1000, `the paste took ${pasteMs.map((x) => x.toFixed(0)).join(', ')} ms to refuse`);
  assert.ok(median(loaded) < 2 * median(unloaded), `small requests beside the paste: ${show(loaded)}; alone: ${show(unloaded)}`);

  // Memory: back within 100 MB of where it was (V8 returns large strings' pages at its next GCs).
  let after = rss();
  for (let i = 0; i < 40 && after > rssBefore + 100e6; i++) {
    await sleep(250);
    after = rss();
  }
  process.stderr.write(`RSS ${(rssBefore / 1e6).toFixed(0)} MB before, ${(after / 1e6).toFixed(0)} MB after\n`);
  assert.ok(after <= rssBefore + 100e6, `RSS ${(rssBefore / 1e6).toFixed(0)} MB before, ${(after / 1e6).toFixed(0)} MB after`);
});

/** Sends a body of `size` bytes over a raw socket (as curl would) and returns what came back. */
function rawPost(size: number, chunked = false): Promise<{ response: string; writeError: string | null }> {
  return new Promise((resolve) => {
    const { port } = new URL(origin);
    const socket = net.connect(Number(port), '127.0.0.1');
    let response = '';
    let writeError: string | null = null;
    socket.on('data', (d) => (response += d.toString()));
    socket.on('error', (e) => (writeError = e.message));
    socket.on('close', () => resolve({ response, writeError }));
    const head = chunked ? 'transfer-encoding: chunked' : `content-length: ${size}`;
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${head}\r\n\r\n`);
    const piece = Buffer.alloc(1 << 16, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += piece.length;
        const ok = chunked ? socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`) : socket.write(piece);
        if (!ok) return void socket.once('drain', pump);
      }
      if (chunked) socket.write('0\r\n\r\n');
      // Everything sent: the client reads the answer, then hangs up.
      setTimeout(() => socket.end(), 200);
    };
    pump();
  });
}

test('a 70 MB body gets a 413 in OpenAI error shape that the client reads: no reset, also chunked', async () => {
  for (const chunked of [false, true]) {
    const { response, writeError } = await rawPost(70 << 20, chunked);
    assert.equal(writeError, null, `chunked=${chunked}: ${writeError}`);
    assert.match(response, /^HTTP\/1\.1 413 /);
    const json = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(json.error.type, 'invalid_request_error');
    assert.equal(json.error.code, 'request_too_large');
  }
  // And the server serves on.
  assert.equal((await timed(small())).status, 200);
});
