// The product: a conversation continued through the Responses API (previous_response_id) or the
// Conversations API gives, turn for turn, exactly what a stateless server recomputing the whole
// history gives, while the pensieve server computes only each turn's new tokens. A restart on the
// same data dir continues a conversation with the same greedy output.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Response } from 'openai/resources/responses/responses';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

const INSTRUCTIONS = 'You tell short stories.';
const INPUTS = ['Tell me a story about a cat.', 'What did the cat see?', 'Where did it go?', 'Who did it meet?', 'How did it end?'];
const PARAMS = { model: MODEL_ID, temperature: 0, max_output_tokens: 16 } as const;

interface Turn {
  text: string;
  status: Response['status'];
  input: number;
  output: number;
  cached: number;
  computed: number;
  /** promptTokensComputed of the engine, before and after the turn. */
  engineComputed: number;
}

let pensieve: TestServer;
let stateless: TestServer;
before(async () => {
  [pensieve, stateless] = await Promise.all([startServer({ cacheMode: 'pensieve' }), startServer({ cacheMode: 'stateless' })]);
});
after(async () => {
  await Promise.all([pensieve?.close(), stateless?.close()]);
});

async function measured(server: TestServer, run: () => Promise<Response>): Promise<Turn> {
  const before = (await server.engine.stats()).promptTokensComputed;
  const r = await run();
  const after = (await server.engine.stats()).promptTokensComputed;
  const usage = r.usage! as Response['usage'] & { pensieve: { computed_prompt_tokens: number } };
  return {
    text: r.output_text,
    status: r.status,
    input: usage!.input_tokens,
    output: usage!.output_tokens,
    cached: usage!.input_tokens_details.cached_tokens,
    computed: usage!.pensieve.computed_prompt_tokens,
    engineComputed: after - before,
  };
}

async function chainTurns(server: TestServer, inputs: readonly string[] = INPUTS, startAfter: string | null = null): Promise<{ turns: Turn[]; lastId: string }> {
  const turns: Turn[] = [];
  let previous = startAfter;
  for (const input of inputs) {
    let id = '';
    turns.push(
      await measured(server, async () => {
        const r = await server.client.responses.create({ ...PARAMS, instructions: INSTRUCTIONS, input, previous_response_id: previous });
        id = r.id;
        return r;
      }),
    );
    previous = id;
  }
  return { turns, lastId: previous! };
}

async function conversationTurns(server: TestServer, conversation: string, inputs: readonly string[] = INPUTS): Promise<Turn[]> {
  const turns: Turn[] = [];
  for (const input of inputs) {
    turns.push(await measured(server, () => server.client.responses.create({ ...PARAMS, instructions: INSTRUCTIONS, input, conversation })));
  }
  return turns;
}

/** Turns 2..n reuse the whole history and compute only the new tokens (+1: a turn's last sampled token was never fed back). */
function assertIncremental(turns: Turn[]): void {
  turns.forEach((t, i) => {
    assert.equal(t.engineComputed, t.computed, `turn ${i + 1}: usage agrees with the engine's counter`);
    assert.equal(t.computed, t.input - t.cached, `turn ${i + 1}: every prompt token is cached or computed`);
    if (i === 0) return;
    const prev = turns[i - 1]!;
    const history = prev.input + prev.output;
    assert.ok(t.cached >= history - 1, `turn ${i + 1}: cached ${t.cached} < history ${history} - 1`);
    // A turn cut by max_output_tokens never fed its last token back; one ended by EOS did.
    const unfed = prev.status === 'incomplete' ? 1 : 0;
    // At most: the chunk store may also hold the new tokens' prefix from another conversation
    // with the same messages (an earlier test's chain), whichever API wrote it.
    assert.ok(t.computed <= t.input - history + unfed, `turn ${i + 1}: computes only its new tokens (${t.computed} > ${t.input - history + unfed})`);
  });
}

function assertRecomputedEverything(turns: Turn[]): void {
  for (const t of turns) {
    assert.equal(t.cached, 0);
    assert.equal(t.computed, t.input);
  }
}

test('a 5-turn previous_response_id chain matches a stateless recomputation and computes only new tokens', async () => {
  const { turns } = await chainTurns(pensieve);
  const { turns: baseline } = await chainTurns(stateless);
  assert.deepEqual(turns.map((t) => t.text), baseline.map((t) => t.text));
  assert.deepEqual(turns.map((t) => t.input), baseline.map((t) => t.input));
  assert.ok(turns.every((t) => t.text.length > 0));
  assertIncremental(turns);
  assertRecomputedEverything(baseline);
});

test('a 5-turn conversation matches a stateless recomputation, computes only new tokens, and holds every item', async () => {
  const conv = await pensieve.client.conversations.create({ metadata: { topic: 'cats' } });
  const turns = await conversationTurns(pensieve, conv.id);
  const baselineConv = await stateless.client.conversations.create({});
  const baseline = await conversationTurns(stateless, baselineConv.id);
  assert.deepEqual(turns.map((t) => t.text), baseline.map((t) => t.text));
  assertIncremental(turns);
  assertRecomputedEverything(baseline);

  const items = await pensieve.client.conversations.items.list(conv.id, { order: 'asc', limit: 100 });
  const texts = items.data.map((item) => (item.type === 'message' && 'text' in item.content[0]! ? item.content[0].text : '?'));
  assert.deepEqual(texts, INPUTS.flatMap((input, i) => [input, turns[i]!.text]));
  assert.deepEqual(items.data.map((item) => (item.type === 'message' ? item.role : item.type)), INPUTS.flatMap(() => ['user', 'assistant']));
});

test('the conversation API and a response chain give the same turns', async () => {
  const conv = await stateless.client.conversations.create({});
  const viaConversation = await conversationTurns(stateless, conv.id, INPUTS.slice(0, 3));
  const { turns: viaChain } = await chainTurns(stateless, INPUTS.slice(0, 3));
  assert.deepEqual(viaConversation.map((t) => t.text), viaChain.map((t) => t.text));
});

test('after a restart on the same data dir, a conversation and a chain continue with the same greedy output', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pensieve-restart-'));
  try {
    const first = await startServer({ dataDir });
    const uninterruptedConv = await conversationTurns(first, (await first.client.conversations.create({})).id, INPUTS.slice(0, 3));
    const { turns: uninterruptedChain } = await chainTurns(first, INPUTS.slice(0, 3));
    const conv = (await first.client.conversations.create({})).id;
    await conversationTurns(first, conv, INPUTS.slice(0, 2));
    const { lastId } = await chainTurns(first, INPUTS.slice(0, 2));
    await first.close();

    const second = await startServer({ dataDir });
    try {
      const [convTurn3] = await conversationTurns(second, conv, INPUTS.slice(2, 3));
      const { turns: chainTurn3 } = await chainTurns(second, INPUTS.slice(2, 3), lastId);
      assert.equal(convTurn3!.text, uninterruptedConv[2]!.text);
      assert.equal(convTurn3!.input, uninterruptedConv[2]!.input, 'the restored history renders the same prompt');
      assert.equal(chainTurn3[0]!.text, uninterruptedChain[2]!.text);
      const items = await second.client.conversations.items.list(conv, { limit: 100 });
      assert.equal(items.data.length, 6);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
