// Large prompts are tokenized on the prompt worker, small ones on the engine thread: the two
// paths must give the same prompts. With largePromptBytes 0 every prompt takes the worker's path;
// greedy replies, prompt token counts and refusals must match the engine-thread path exactly.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EngineClient, RequestRejectedError } from '../../src/engine/client.js';
import { GREEDY } from '../../src/engine/sampler.js';
import type { PromptInput } from '../../src/engine/protocol.js';
import { engineOptions } from '../server/helpers.js';

let inline: EngineClient;
let viaWorker: EngineClient;
before(async () => {
  [inline, viaWorker] = await Promise.all([
    EngineClient.start(engineOptions('stateless')),
    EngineClient.start({ ...engineOptions('stateless'), largePromptBytes: 0 }),
  ]);
});
after(async () => {
  await inline?.close();
  await viaWorker?.close();
});

async function run(engine: EngineClient, prompt: PromptInput) {
  const h = engine.generate({ prompt, conversationId: null, sampling: GREEDY, maxTokens: 12, stop: [], ignoreEos: false });
  const accepted = await h.accepted;
  let text = '';
  for await (const ev of h.events) if (ev.type !== 'error') text += ev.text;
  return { tokens: accepted.tokens, promptText: accepted.text, text };
}

test('chat, text and a chat with history give the same prompts and replies on either path', async () => {
  const chat: PromptInput = { kind: 'chat', messages: [{ role: 'user', content: 'Once upon a time, a little girl' }] };
  const first = await run(inline, chat);
  assert.deepEqual(await run(viaWorker, chat), first);
  const text: PromptInput = { kind: 'text', text: 'Lily went to the park' };
  assert.deepEqual(await run(viaWorker, text), await run(inline, text));
  const withHistory: PromptInput = {
    kind: 'chat',
    messages: [...chat.messages, { role: 'assistant', content: first.text.trim() }, { role: 'user', content: 'And then?' }],
    history: { tokens: [...first.tokens], text: first.promptText },
  };
  assert.deepEqual(await run(viaWorker, withHistory), await run(inline, withHistory));
});

test('a prompt past the context is refused on the worker path, before tokenizing when the bound shows it', async () => {
  for (const text of ['Lily went to the park. '.repeat(400), 'x'.repeat(2_000_000)]) {
    const h = viaWorker.generate({ prompt: { kind: 'text', text }, conversationId: null, sampling: GREEDY, maxTokens: 4, stop: [], ignoreEos: false });
    const t0 = performance.now();
    await assert.rejects(h.accepted, (err: unknown) => err instanceof RequestRejectedError && err.code === 'context_length_exceeded');
    if (text.length > 1e6) assert.ok(performance.now() - t0 < 1000, 'refused by the bound, not after tokenizing 2 MB');
  }
  assert.equal(viaWorker.inFlight, 0);
});

test('a prompt worker that a large prompt left with a much larger heap is replaced, and prompts go on meanwhile', async () => {
  const recycling = await EngineClient.start({ ...engineOptions('stateless'), largePromptBytes: 0, promptWorkerHeapGrowth: 16 << 20 });
  try {
    const chat: PromptInput = { kind: 'chat', messages: [{ role: 'user', content: 'Once upon a time, a little girl' }] };
    const expected = await run(inline, chat);
    assert.deepEqual(await run(recycling, chat), expected);
    assert.equal(recycling.promptWorkerRestarts, 0, 'a small prompt leaves the worker as it is');
    // 32 MB of text: refused by the bound, but its copy now sits in the worker's heap.
    const big = recycling.generate({ prompt: { kind: 'text', text: 'x'.repeat(32 << 20) }, conversationId: null, sampling: GREEDY, maxTokens: 4, stop: [], ignoreEos: false });
    await assert.rejects(big.accepted, (err: unknown) => err instanceof RequestRejectedError && err.code === 'context_length_exceeded');
    // While the replacement loads, the old worker answers; afterwards the new one does.
    const deadline = Date.now() + 60_000;
    while (recycling.promptWorkerRestarts === 0 && Date.now() < deadline) assert.deepEqual(await run(recycling, chat), expected);
    assert.equal(recycling.promptWorkerRestarts, 1);
    const replies = await Promise.all([run(recycling, chat), run(recycling, chat), run(recycling, chat)]);
    for (const r of replies) assert.deepEqual(r, expected);
    assert.equal(recycling.inFlight, 0);
  } finally {
    await recycling.close();
  }
});
