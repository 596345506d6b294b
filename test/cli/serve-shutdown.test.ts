// Shutdown of the real `pensieve serve` process: idle keep-alive connections do not hold a
// SIGTERM; requests in flight get until --shutdown-timeout and are then ended with an error
// event; a second signal exits at once; committed turns (and their KV) survive.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { MODELS } from '../helpers/paths.js';
import { startServer, stopServer, type ServerProcess } from '../helpers/serve.js';

const MODEL = path.join(MODELS, 'stories260K', 'stories260K.gguf');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-shutdown-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function hostPort(s: ServerProcess): { host: string; port: number } {
  const u = new URL(s.baseURL);
  return { host: u.hostname, port: Number(u.port) };
}

/** Sends SIGTERM (or `signal`) and resolves with the exit code and the milliseconds it took. */
async function timedStop(s: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  const code = await stopServer(s, signal);
  return { code, ms: performance.now() - t0 };
}

/** A raw socket to the server, opened and left as `state` says. */
async function socketTo(s: ServerProcess, state: 'fresh' | 'after-request' | 'mid-headers'): Promise<net.Socket> {
  const { host, port } = hostPort(s);
  const socket = net.connect(port, host);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {});
  if (state === 'mid-headers') socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  if (state === 'after-request') {
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
  }
  return socket;
}

/** A streamed chat completion long enough to outlast a short drain (ignore_eos, 2000 tokens). */
async function longStream(s: ServerProcess) {
  const res = await fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'stories260K', messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 2000, ignore_eos: true, temperature: 0, stream: true,
    }),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  // Wait until tokens flow: the request is in the engine.
  while (!text.includes('"content"')) {
    const { value, done } = await reader.read();
    assert.ok(!done, 'the stream ended before its first token');
    text += decoder.decode(value, { stream: true });
  }
  return {
    /** Everything the stream sends until it ends. */
    async rest(): Promise<string> {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return text;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        return `${text}<connection reset>`;
      }
    },
  };
}

test('SIGTERM exits at once although clients hold idle keep-alive connections', async (t) => {
  const dir = tempDir(t);
  const s = await startServer(['--model', MODEL, '--data-dir', dir]);
  const sockets = [await socketTo(s, 'fresh'), await socketTo(s, 'after-request'), await socketTo(s, 'mid-headers')];
  const closed = sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve)));
  const { code, ms } = await timedStop(s);
  console.log(`exit ${code} after ${ms.toFixed(0)} ms with 3 idle connections held (default --shutdown-timeout 30)`);
  assert.equal(code, 0);
  assert.ok(ms < 5000, `exited after ${ms.toFixed(0)} ms`);
  await Promise.all(closed);
  assert.match(s.stderr(), /SIGTERM: shutting down/);
});

test('a stream still running at --shutdown-timeout ends with an error event; committed turns and their KV survive', async (t) => {
  const dir = tempDir(t);
  const s = await startServer(['--model', MODEL, '--data-dir', dir, '--shutdown-timeout', '0.5']);
  // Two committed turns of one chain.
  let previous: string | null = null;
  const texts: string[] = [];
  for (const input of ['Tom had a little dog. The dog liked to run in the park with Tom every day.', 'One day it rained.']) {
    const r: Response = await fetch(`${s.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories260K', input, previous_response_id: previous, max_output_tokens: 24, temperature: 0 }),
    });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { id: string; output_text?: string; output: { content: { text: string }[] }[] };
    previous = body.id;
    texts.push(body.output[0]!.content[0]!.text);
  }

  const stream = await longStream(s);
  const stopped = timedStop(s);
  const rest = await stream.rest();
  const { code, ms } = await stopped;
  console.log(`exit ${code} after ${ms.toFixed(0)} ms (--shutdown-timeout 0.5); stream tail: ${rest.slice(-220).replace(/\n/g, '\\n')}`);
  assert.equal(code, 0);
  assert.ok(ms < 0.5 * 1000 + 5000, `exited after ${ms.toFixed(0)} ms`);
  assert.ok(!rest.includes('"finish_reason":"length"'), 'the generation did not run to its end');
  const events = rest.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length));
  assert.equal(events.at(-1), '[DONE]');
  const error = JSON.parse(events.at(-2)!) as { error: { message: string; type: string; param: null; code: string } };
  assert.deepEqual(Object.keys(error.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(error.error.code, 'server_shutting_down');
  assert.match(s.stderr(), /ended 1 request\(s\) still running at the deadline/);

  // A new server on the same data: the chain is there, and continues from the KV written at shutdown.
  const again = await startServer(['--model', MODEL, '--data-dir', dir]);
  try {
    const stored = (await (await fetch(`${again.baseURL}/responses/${previous}`)).json()) as { output: { content: { text: string }[] }[] };
    assert.equal(stored.output[0]!.content[0]!.text, texts[1]);
    const r = await fetch(`${again.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories260K', input: 'Tom was sad.', previous_response_id: previous, max_output_tokens: 8, temperature: 0 }),
    });
    assert.equal(r.status, 200);
    const usage = ((await r.json()) as { usage: { input_tokens: number; input_tokens_details: { cached_tokens: number } } }).usage;
    console.log(`after restart: ${usage.input_tokens_details.cached_tokens} of ${usage.input_tokens} input tokens restored from the disk tier`);
    assert.ok(usage.input_tokens_details.cached_tokens >= 32, 'the KV written at shutdown was reused');
  } finally {
    await stopServer(again);
  }
});

test('a second signal exits at once, with a non-zero status, while a request still drains', async (t) => {
  const dir = tempDir(t);
  const s = await startServer(['--model', MODEL, '--data-dir', dir]);
  const stream = await longStream(s);
  const rest = stream.rest();
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGTERM');
  // The first signal drains (default 30 s for the stream); the second one ends it now.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(s.child.exitCode, null, 'still draining after the first signal');
  const t0 = performance.now();
  s.child.kill('SIGINT');
  const code = await exited;
  const ms = performance.now() - t0;
  console.log(`second signal: exit ${code} after ${ms.toFixed(0)} ms`);
  assert.equal(code, 130);
  assert.ok(ms < 2000, `exited ${ms.toFixed(0)} ms after the second signal`);
  await rest;
  assert.match(s.stderr(), /SIGINT during shutdown: exiting now/);
});
