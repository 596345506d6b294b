// `pensieve cluster` end to end: three real replicas of the tiny model behind a real HAProxy.
// Ten Responses chains (their last turn streamed) and ten chat-completions conversations of
// three turns each go through HAProxy; each replica's own request log (the cluster prints it,
// prefixed with the replica's name) says which replica served each request. Every turn of a
// conversation lands on one replica, new conversations spread over all three, and after one
// replica is SIGKILLed HAProxy takes it out within its health-check interval and sends it nothing
// more, while every other conversation stays where it was. With PENSIEVE_TEST_POSTGRES_URL the
// replicas share one PostgreSQL store, and the dead replica's chains continue elsewhere too.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { serverStats } from '../../src/cluster/haproxy.js';
import { routeKeyOf } from '../../src/store/index.js';
import { alive, completedResponse, startCluster, stopCluster } from '../helpers/cluster.js';
import { NO_HAPROXY, freePort } from '../helpers/haproxy.js';
import { MODELS } from '../helpers/paths.js';
import { POSTGRES_URL, scratchDatabase } from '../helpers/postgres.js';

const MODEL = path.join(MODELS, 'stories260K', 'stories260K.gguf');
const REPLICAS = ['r0', 'r1', 'r2'];
/** HAProxy checks every 1 s and takes a replica out after 2 failures, checked 0.5 s apart. */
const DETECTION_LIMIT_MS = 2500;

interface Reply {
  replica: string;
  header: string | null;
  body: Record<string, unknown>;
}

let requestCount = 0;

test('pensieve cluster: affinity for every turn, spread for new conversations, a killed replica out within its check interval', { skip: NO_HAPROXY, timeout: 240_000 }, async (t) => {
  const db = POSTGRES_URL === undefined ? null : await scratchDatabase();
  if (db !== null) t.after(() => db.drop());
  const port = await freePort();
  const cluster = await startCluster([
    '--replicas', '3', '--port', String(port),
    ...(db === null ? [] : ['--store', db.url]),
    '--model', MODEL, '--kv-cache-memory', '16M', '--threads', '1', '--log-format', 'json',
  ]);
  t.after(() => stopCluster(cluster));
  assert.deepEqual([...cluster.pids.keys()].sort(), REPLICAS);

  async function post(urlPath: string, body: unknown): Promise<Reply> {
    const id = `test-${++requestCount}`;
    const res = await fetch(`${cluster.origin}${urlPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify(body),
    }).catch((err: Error) => {
      throw new Error(`${urlPath} (${id}): ${err.message}: ${String(err.cause)}\n${cluster.output().split('\n').filter((l) => !l.startsWith('r')).slice(-20).join('\n')}`);
    });
    const json = (body as { stream?: boolean }).stream ? completedResponse(await res.text()) : ((await res.json()) as Record<string, unknown>);
    assert.equal(res.status, 200, `${urlPath}: ${JSON.stringify(json)}`);
    const replica = await cluster.servedBy(id);
    assert.equal(res.headers.get('x-pensieve-replica'), replica);
    return { replica, header: res.headers.get('x-pensieve-replica'), body: json };
  }

  // Responses chains: previous_response_id carries the key.
  interface Chain { ids: string[]; replicas: string[] }
  const chains: Chain[] = [];
  for (let i = 0; i < 10; i++) {
    const chain: Chain = { ids: [], replicas: [] };
    for (let turn = 0; turn < 3; turn++) {
      const r = await post('/v1/responses', {
        model: 'stories260K', input: turn === 0 ? `Story ${i}: once upon a time` : `And then, part ${turn}?`,
        max_output_tokens: 4, temperature: 0, ...(turn === 0 ? {} : { previous_response_id: chain.ids.at(-1) }),
        // The last turn streamed (SSE through HAProxy).
        ...(turn === 2 ? { stream: true } : {}),
      });
      chain.ids.push(r.body.id as string);
      chain.replicas.push(r.replica);
    }
    chains.push(chain);
  }
  // Chat completions: the client resends the history; the leading messages carry the key.
  interface Chat { messages: { role: string; content: string }[]; replicas: string[] }
  const chats: Chat[] = [];
  const chatTurn = async (chat: Chat, question: string) => {
    chat.messages.push({ role: 'user', content: question });
    const r = await post('/v1/chat/completions', { model: 'stories260K', messages: chat.messages, max_tokens: 4, temperature: 0 });
    const reply = (r.body.choices as { message: { content: string } }[])[0]!.message.content;
    chat.messages.push({ role: 'assistant', content: reply });
    chat.replicas.push(r.replica);
  };
  for (let i = 0; i < 10; i++) {
    const chat: Chat = { messages: [{ role: 'system', content: 'You tell short stories.' }], replicas: [] };
    for (let turn = 0; turn < 3; turn++) await chatTurn(chat, turn === 0 ? `Tell me story number ${i}.` : `What happened next (${turn})?`);
    chats.push(chat);
  }

  for (const c of chains) {
    assert.equal(new Set(c.ids.map(routeKeyOf)).size, 1, `one key for chain ${c.ids}`);
    assert.equal(new Set(c.replicas).size, 1, `chain ${c.ids[0]} went to ${c.replicas}`);
  }
  for (const c of chats) assert.equal(new Set(c.replicas).size, 1, `chat "${c.messages[1]!.content}" went to ${c.replicas}`);
  const homes = [...chains, ...chats].map((c) => c.replicas[0]!);
  const perReplica = Object.fromEntries(REPLICAS.map((r) => [r, homes.filter((h) => h === r).length]));
  t.diagnostic(`conversations per replica: ${JSON.stringify(perReplica)}`);
  assert.ok(REPLICAS.every((r) => perReplica[r]! > 0), `new conversations did not spread: ${JSON.stringify(perReplica)}`);

  // Kill the replica that is home to the most conversations.
  const victim = REPLICAS.reduce((a, b) => (perReplica[b]! > perReplica[a]! ? b : a));
  const killedAt = performance.now();
  process.kill(cluster.pids.get(victim)!, 'SIGKILL');
  // Before any check has noticed: a request whose home just died is sent on along the ring
  // (retries + redispatch), not failed. (A moment after the kill, not at once: HAProxy must have
  // seen the dead replica close the idle connection it keeps to it; a request it had already
  // written on that connection is answered by closing the client's, which clients retry.)
  await new Promise((r) => setTimeout(r, 200));
  const early = chats.find((c) => c.replicas[0] === victim);
  if (early !== undefined) {
    await chatTurn(early, 'Are you still there?');
    assert.notEqual(early.replicas.at(-1), victim);
  }
  let downAfterMs = -1;
  let victimSessions = -1;
  while (downAfterMs < 0) {
    const stat = (await serverStats(cluster.socket)).find((s) => s.name === victim)!;
    if (stat.status.startsWith('DOWN')) {
      downAfterMs = performance.now() - killedAt;
      victimSessions = stat.sessions;
    } else {
      assert.ok(performance.now() - killedAt < 10_000, `HAProxy still reports ${victim} ${stat.status} 10 s after SIGKILL`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  t.diagnostic(`HAProxy took ${victim} out ${Math.round(downAfterMs)} ms after SIGKILL`);
  assert.ok(downAfterMs <= DETECTION_LIMIT_MS, `HAProxy took ${victim} out only after ${Math.round(downAfterMs)} ms`);

  // Every chat continues; those homed elsewhere stay home (consistent hashing moves only the
  // dead replica's keys).
  for (const chat of chats) {
    await chatTurn(chat, 'How did it end?');
    const home = chat.replicas[0]!;
    if (home === victim) assert.notEqual(chat.replicas.at(-1), victim);
    else assert.equal(chat.replicas.at(-1), home, `chat homed on ${home} moved to ${chat.replicas.at(-1)}`);
  }
  for (const chain of chains) {
    const home = chain.replicas[0]!;
    // Without a shared store the dead replica's chains are gone with its SQLite file.
    if (home === victim && db === null) continue;
    const r = await post('/v1/responses', { model: 'stories260K', input: 'The end.', previous_response_id: chain.ids.at(-1), max_output_tokens: 4, temperature: 0 });
    assert.equal(routeKeyOf(r.body.id as string), routeKeyOf(chain.ids[0]!));
    if (home === victim) assert.notEqual(r.replica, victim);
    else assert.equal(r.replica, home);
  }
  if (db === null) t.diagnostic('no PENSIEVE_TEST_POSTGRES_URL: the killed replica\'s chains were not continued (its store died with it)');
  const fresh = new Set<string>();
  for (let i = 0; i < 6; i++) fresh.add((await post('/v1/responses', { model: 'stories260K', input: `New story ${i}`, max_output_tokens: 2 })).replica);
  assert.ok(!fresh.has(victim));
  const after = (await serverStats(cluster.socket)).find((s) => s.name === victim)!;
  assert.equal(after.sessions, victimSessions, `HAProxy sent ${victim} ${after.sessions - victimSessions} request(s) after taking it out`);

  // SIGTERM drains and stops everything: no replica, no HAProxy, no run dir left.
  assert.equal(await stopCluster(cluster), 0, cluster.output().slice(-2000));
  for (const [name, pid] of cluster.pids) assert.ok(!alive(pid), `replica ${name} (pid ${pid}) still runs`);
  assert.ok(!existsSync(cluster.runDir), `run dir ${cluster.runDir} left behind`);
});
