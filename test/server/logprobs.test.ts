// logprobs / top_logprobs and n > 1 on chat and text completions, through the official client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MODEL_ID, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer({ cacheMode: 'prefix' });
});
after(() => server?.close());

const GREEDY = { model: MODEL_ID, temperature: 0 } as const;
const messages = [{ role: 'user' as const, content: 'Tell me a story about a cat and a dog who became friends.' }];

test('chat logprobs: one entry per token, the greedy pick is the top alternative, the tokens spell the reply', async () => {
  const r = await server.client.chat.completions.create({ ...GREEDY, messages, max_tokens: 12, logprobs: true, top_logprobs: 3 });
  const choice = r.choices[0]!;
  const content = choice.logprobs!.content!;
  assert.equal(content.length, r.usage!.completion_tokens);
  // The tokens spell the reply; this model has no chat template, and its fallback's "Assistant:"
  // leaves the reply's first space out of the content (generation.ts).
  const spelled = content.map((t) => t.token).join('');
  assert.ok(spelled === choice.message.content || spelled === ` ${choice.message.content}`, spelled);
  for (const t of content) {
    assert.ok(t.logprob <= 0 && Number.isFinite(t.logprob));
    assert.equal(t.top_logprobs.length, 3);
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
    // Greedy at temperature 0 with no penalties takes the most likely token.
    assert.equal(t.top_logprobs[0]!.token, t.token);
    assert.equal(t.top_logprobs[0]!.logprob, t.logprob);
    for (let i = 1; i < 3; i++) assert.ok(t.top_logprobs[i]!.logprob <= t.top_logprobs[i - 1]!.logprob);
    assert.ok(t.top_logprobs.reduce((s, a) => s + Math.exp(a.logprob), 0) <= 1 + 1e-6);
  }

  const plain = await server.client.chat.completions.create({ ...GREEDY, messages, max_tokens: 12 });
  assert.equal(plain.choices[0]!.logprobs, null, 'no logprobs unless asked');
  assert.equal(plain.choices[0]!.message.content, choice.message.content);
});

test('streamed chat logprobs equal the non-streamed ones', async () => {
  const request = { ...GREEDY, messages, max_tokens: 12, logprobs: true, top_logprobs: 2 } as const;
  const whole = await server.client.chat.completions.create(request);
  const stream = await server.client.chat.completions.create({ ...request, stream: true });
  const streamed = [];
  for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
  assert.deepEqual(streamed, whole.choices[0]!.logprobs!.content);
});

test('completions logprobs: parallel arrays and text offsets', async () => {
  const r = await server.client.completions.create({ ...GREEDY, prompt: 'Once upon a time', max_tokens: 10, logprobs: 2 });
  const choice = r.choices[0]!;
  const lp = choice.logprobs!;
  assert.equal(lp.tokens!.length, r.usage!.completion_tokens);
  assert.equal(lp.tokens!.join(''), choice.text);
  assert.equal(lp.token_logprobs!.length, lp.tokens!.length);
  assert.equal(lp.text_offset![0], 0);
  for (let i = 0; i < lp.tokens!.length; i++) {
    assert.equal(Object.keys(lp.top_logprobs![i]!).length <= 2, true);
    assert.equal(lp.top_logprobs![i]![lp.tokens![i]!], lp.token_logprobs![i]);
    if (i > 0) assert.equal(lp.text_offset![i], lp.text_offset![i - 1]! + lp.tokens![i - 1]!.length);
  }
});

test('n samples: n choices indexed 0..n-1, seeded samples repeat, usage counts every choice', async () => {
  const request = { model: MODEL_ID, messages, max_tokens: 16, n: 3, temperature: 1, seed: 11 } as const;
  const a = await server.client.chat.completions.create(request);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  const texts = a.choices.map((c) => c.message.content);
  assert.ok(new Set(texts).size > 1, `seed + i gives different samples: ${JSON.stringify(texts)}`);
  assert.equal(a.usage!.completion_tokens, 48);
  const b = await server.client.chat.completions.create(request);
  assert.deepEqual(b.choices.map((c) => c.message.content), texts);

  const streamed = new Map<number, string>();
  const finished = new Set<number>();
  const stream = await server.client.chat.completions.create({ ...request, stream: true });
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      streamed.set(c.index, (streamed.get(c.index) ?? '') + (c.delta.content ?? ''));
      if (c.finish_reason) finished.add(c.index);
    }
  }
  assert.deepEqual([...finished].sort(), [0, 1, 2]);
  assert.deepEqual([0, 1, 2].map((i) => streamed.get(i)), texts);
});

test('the n samples share the prompt: the later ones compute only its last partial block', async () => {
  const prompt = 'The little girl walked into the forest and found a small house made of candy and cake. ';
  const before = await server.engine.stats();
  const r = await server.client.completions.create({ model: MODEL_ID, prompt: prompt.repeat(3), max_tokens: 4, n: 4, temperature: 1, seed: 5 });
  const after = await server.engine.stats();
  const promptTokens = r.usage!.prompt_tokens;
  assert.ok(promptTokens > 64);
  const computed = after.promptTokensComputed - before.promptTokensComputed;
  const blockSize = server.engine.model.blockSize;
  assert.ok(computed <= promptTokens + 3 * blockSize, `computed ${computed} prompt tokens for 4 samples of a ${promptTokens}-token prompt`);
  assert.equal(r.choices.length, 4);
});
