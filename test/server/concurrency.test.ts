// Many conversations at once are batched together by the engine, and that must never change
// what any of them says; turns of one conversation sent at once run one after the other.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Response } from 'openai/resources/responses/responses';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

const OPENINGS = [
  'Tell me about a cat.', 'Tell me about a dog.', 'Tell me about a bird.', 'Tell me about a fish.',
  'Tell me about the sun.', 'Tell me about a tree.', 'Tell me about a boat.', 'Tell me about a ball.',
  'Tell me about a girl.', 'Tell me about a boy.', 'Tell me about the park.', 'Tell me about a cake.',
  'Tell me about a car.', 'Tell me about the rain.', 'Tell me about a frog.', 'Tell me about a king.',
];
const FOLLOW_UPS = ['What happened next?', 'How did it end?'];

let server: TestServer;
before(async () => {
  server = await startServer({ cacheMode: 'pensieve', maxNumSeqs: 16 });
});
after(() => server?.close());

/** One conversation of 3 turns through previous_response_id; returns its replies. */
async function conversation(opening: string): Promise<string[]> {
  const replies: string[] = [];
  let previous: string | null = null;
  for (const input of [opening, ...FOLLOW_UPS]) {
    const r: Response = await server.client.responses.create({ model: MODEL_ID, input, previous_response_id: previous, temperature: 0, max_output_tokens: 12 });
    replies.push(r.output_text);
    previous = r.id;
  }
  return replies;
}

test('16 conversations run concurrently say what they say when run one at a time', async () => {
  const steps0 = (await server.engine.stats()).steps;
  const alone: string[][] = [];
  for (const opening of OPENINGS) alone.push(await conversation(opening));
  const steps1 = (await server.engine.stats()).steps;
  const together = await Promise.all(OPENINGS.map((opening) => conversation(opening)));
  const steps2 = (await server.engine.stats()).steps;
  assert.deepEqual(together, alone);
  // Batched, the same work takes far fewer engine steps: the turns really did interleave.
  assert.ok(steps2 - steps1 < (steps1 - steps0) / 2, `concurrent run took ${steps2 - steps1} steps, sequential ${steps1 - steps0}`);
});

test('turns of one conversation sent at once run in order, each seeing the one before', async () => {
  const conv = await server.client.conversations.create({});
  const send = (input: string) => server.client.responses.create({ model: MODEL_ID, input, conversation: conv.id, temperature: 0, max_output_tokens: 8 });
  const inputs = ['Hello.', 'Tell me more.', 'Thank you.'];
  const responses = await Promise.all(inputs.map(send));
  const items = await server.client.conversations.items.list(conv.id, { order: 'asc' });
  assert.equal(items.data.length, 6);
  // Whatever order they arrived in, each input is followed by its own reply.
  const byOutput = new Map(responses.map((r, i) => [r.output[0]!.id, { r, input: inputs[i]! }]));
  const ordered = [0, 1, 2].map((k) => {
    const [user, assistant] = [items.data[2 * k]!, items.data[2 * k + 1]!];
    const turn = byOutput.get(assistant.id)!;
    assert.ok(turn, `item ${2 * k + 1} is one of the replies`);
    assert.ok(user.type === 'message' && user.role === 'user' && 'text' in user.content[0]! && user.content[0].text === turn.input);
    return turn.r;
  });
  // Each later turn's prompt holds the earlier turn whole, and reused its KV.
  for (let k = 1; k < 3; k++) {
    const [prev, cur] = [ordered[k - 1]!.usage!, ordered[k]!.usage!];
    assert.ok(cur.input_tokens > prev.input_tokens + prev.output_tokens);
    assert.ok(cur.input_tokens_details.cached_tokens >= prev.input_tokens + prev.output_tokens - 1);
  }
});
