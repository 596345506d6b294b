// HAProxy with the shipped configuration and Lua (deploy/haproxy), in front of three small echo
// servers that report the routing key and rule they were sent: the Lua computes, for every kind
// of request, the key the TypeScript rules compute (src/cluster/route-key.ts), on bodies written
// every which way and on bodies past HAProxy's buffer; one key always reaches one server while
// keys spread over all; a client cannot choose the key; streamed replies pass through as they
// are written.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { routeKeyFor, type RouteSource } from '../../src/cluster/route-key.js';
import { NO_HAPROXY, runHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';
import { mulberry32 } from '../helpers/random.js';
import { randomCase } from './json-bodies.js';

interface Echo {
  server: string;
  key: string;
  source: RouteSource;
  bytes: number;
}

const ID = 'resp_0123456789abcdef0123456789abcdef0123456789abcdef';

/** Answers what it got; /sse streams five events 100 ms apart, each stamped with its send time. */
function echoServer(name: string): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/sse') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`data: ${Date.now()}\n\n`);
        if (++sent === 5) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      return;
    }
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ server: name, key: req.headers['x-pensieve-route-key'], source: req.headers['x-pensieve-route-source'], bytes }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, address: `127.0.0.1:${(server.address() as { port: number }).port}` })));
}

describe('HAProxy routing by the Lua routing key', { skip: NO_HAPROXY }, () => {
  const echoes: Server[] = [];
  let haproxy: RunningHaproxy;
  before(async () => {
    const started = await Promise.all(['r0', 'r1', 'r2'].map(echoServer));
    echoes.push(...started.map((s) => s.server));
    haproxy = await runHaproxy(started.map((s, i) => ({ name: `r${i}`, address: s.address })));
  });
  after(async () => {
    await haproxy?.stop();
    for (const s of echoes) s.close();
  });

  async function send(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Echo> {
    const res = await fetch(`${haproxy.origin}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: new Uint8Array(body) }) });
    assert.equal(res.status, 200, `${method} ${path}: ${res.status}`);
    return (await res.json()) as Echo;
  }

  function assertSame(got: Echo, method: string, path: string, body: Buffer, what: string): void {
    const want = routeKeyFor({ method, path, body });
    assert.equal(got.source, want.source, what);
    assert.match(got.key, /^[0-9a-f]{16}$/, what);
    if (want.source !== 'random') assert.equal(got.key, want.key, what);
  }

  it('computes the key TypeScript computes, for paths and for random bodies of every kind', async () => {
    for (const [method, path] of [
      ['GET', `/v1/responses/${ID}`], ['DELETE', `/v1/responses/${ID}/input_items`], ['GET', '/v1/conversations/conv_fedcba9876543210fedcba9876543210fedcba9876543210/items'],
      ['GET', '/v1/models'], ['GET', '/v1/responses/resp_nope'], ['GET', '/health'],
    ] as const) {
      assertSame(await send(method, path), method, path, Buffer.alloc(0), `${method} ${path}`);
    }
    const rng = mulberry32(99);
    const sources = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const c = randomCase(rng);
      const got = await send('POST', c.path, c.body);
      assert.equal(got.bytes, c.body.length);
      assertSame(got, 'POST', c.path, c.body, `case ${i}: ${c.path} ${c.body.toString('latin1')}`);
      sources.add(got.source);
    }
    assert.deepEqual([...sources].sort(), ['conversation', 'messages', 'previous_response_id', 'prompt', 'random']);
  });

  it('agrees on bytes JSON.parse would mangle: invalid UTF-8, NULs, lone surrogates, malformed JSON', async () => {
    const bodies = [
      Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"caf'), Buffer.from([0xe9, 0xff, 0xc3]), Buffer.from('"}]}')]),
      Buffer.from('{"messages":[{"role":"system","content":"a\\u0000b"},{"role":"user","content":"\\ud800\\udc00\\udc00\\ud83d"}]}'),
      Buffer.from('{"messages":[{"role":"user","content":"\\ud83d\\u0041"}]}'),
      Buffer.from('{"messages":[{"role":"user","content":"x"},'),
      Buffer.from('{"messages":[{"role":"user","content":"\\q"}]}'),
      Buffer.from('{"messages":[{"role":"user","role":"system","content":"first role wins"}], "messages": []}'),
      Buffer.from(`{"messages":[${'['.repeat(40)}${']'.repeat(40)},{"role":"user","content":"deep"}]}`),
      Buffer.from('{"prompt":"\\u00e9\\n"}'),
      Buffer.from('{"prompt":"' + 'é'.repeat(200) + '"}'),
      Buffer.from('not json'),
    ];
    for (const [i, body] of bodies.entries()) {
      for (const path of ['/v1/chat/completions', '/v1/completions']) assertSame(await send('POST', path, body), 'POST', path, body, `body ${i} to ${path}`);
    }
  });

  it('reads the key within the first buffer (256 KiB) of a body and routes by a random key past it', async () => {
    const big = 'x'.repeat(600_000);
    const leadingFirst = Buffer.from(JSON.stringify({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'q' }, { role: 'assistant', content: big }], model: 'm' }));
    const got = await send('POST', '/v1/chat/completions', leadingFirst);
    assert.equal(got.bytes, leadingFirst.length);
    assert.deepEqual([got.source, got.key], ['messages', routeKeyFor({ method: 'POST', path: '/v1/chat/completions', body: leadingFirst }).key]);

    const userTooLong = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: big }] }));
    assert.equal((await send('POST', '/v1/chat/completions', userTooLong)).source, 'random');

    const previousFirst = Buffer.from(JSON.stringify({ previous_response_id: ID, input: big }));
    assert.deepEqual(await send('POST', '/v1/responses', previousFirst).then((e) => [e.source, e.key]), ['previous_response_id', '0123456789abcdef']);
    const previousLast = Buffer.from(JSON.stringify({ input: big, previous_response_id: ID }));
    assert.equal((await send('POST', '/v1/responses', previousLast)).source, 'random');
  });

  it('sends one key to one server, spreads keys over all servers, and overrides a key the client sends', async () => {
    const homes = new Map<string, Set<string>>();
    for (let conv = 0; conv < 30; conv++) {
      const body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: `conversation ${conv}` }] }));
      for (let turn = 0; turn < 3; turn++) {
        const got = await send('POST', '/v1/chat/completions', body, { 'x-pensieve-route-key': 'ffffffffffffffff' });
        assert.notEqual(got.key, 'ffffffffffffffff');
        homes.set(got.key, (homes.get(got.key) ?? new Set()).add(got.server));
      }
    }
    assert.equal(homes.size, 30);
    for (const [key, servers] of homes) assert.equal(servers.size, 1, `key ${key} reached ${[...servers]}`);
    const used = new Set([...homes.values()].map((s) => [...s][0]));
    assert.deepEqual([...used].sort(), ['r0', 'r1', 'r2']);
  });

  it('passes streamed (SSE) replies through as they are written, not held back', async () => {
    const lags: number[] = [];
    const res = await fetch(`${haproxy.origin}/sse`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const m of decoder.decode(value).matchAll(/data: (\d+)/g)) lags.push(Date.now() - Number(m[1]));
    }
    assert.equal(lags.length, 5);
    // Without `option http-no-delay` HAProxy held each event back ~100-200 ms (measured).
    const median = [...lags].sort((a, b) => a - b)[2]!;
    assert.ok(median < 50, `events arrived ${lags.join(', ')} ms after they were written`);
  });
});
