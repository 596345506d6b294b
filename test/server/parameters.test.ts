// Every parameter a route takes changes what it does, or is refused by name: logit_bias and
// repetition_penalty reach the sampler (greedy included), `user` reaches the log line, and the
// OpenAI fields this server does not honour — and any field it does not know — are 400s.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readGguf } from '../../src/model/formats/gguf.js';
import { tokenizerFromGguf } from '../../src/model/tokenizer/index.js';
import { MODEL_ID, STORIES, post, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

const tokenizer = tokenizerFromGguf(readGguf(STORIES).metadata, STORIES);
const CHAT = { model: MODEL_ID, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8, temperature: 0 };
const PROMPT = { model: MODEL_ID, prompt: 'Once upon a time there was a little girl', max_tokens: 12, temperature: 0 };
const RESPONSE = { model: MODEL_ID, input: 'Once upon a time', max_output_tokens: 8, temperature: 0, store: false };

const chat = (extra: Record<string, unknown>) => post(server.origin, '/v1/chat/completions', { ...CHAT, ...extra });
const complete = (extra: Record<string, unknown>) => post(server.origin, '/v1/completions', { ...PROMPT, ...extra });
const respond = (extra: Record<string, unknown>) => post(server.origin, '/v1/responses', { ...RESPONSE, ...extra });

const completionText = (res: Awaited<ReturnType<typeof post>>) => (res.body.choices as Array<{ text: string }>)[0]!.text;
const chatText = (res: Awaited<ReturnType<typeof post>>) => (res.body.choices as Array<{ message: { content: string } }>)[0]!.message.content;

test('logit_bias +100 makes greedy decoding repeat the biased token; -100 bans the greedy choice', async () => {
  // A whole word of the 512-token vocabulary (its piece is "▁word").
  const cat = Array.from({ length: tokenizer.vocabSize }, (_, id) => id).find((id) => /^([a-z]{3,}) \1$/.test(tokenizer.decode([id, id])))!;
  const word = tokenizer.decode([cat]);
  const plain = await complete({});
  assert.equal(plain.status, 200, JSON.stringify(plain.body));
  const biased = await complete({ logit_bias: { [cat]: 100 }, ignore_eos: true });
  assert.equal(biased.status, 200, JSON.stringify(biased.body));
  assert.deepEqual(completionText(biased).trim().split(' '), new Array(12).fill(word));

  // The first greedy token, banned, gives way to another.
  const first = await complete({ max_tokens: 1 });
  const firstText = completionText(first);
  const firstId = tokenizer.encode(firstText, { addBos: false }).at(-1)!;
  const banned = await complete({ max_tokens: 1, logit_bias: { [firstId]: -100 } });
  assert.notEqual(completionText(banned), firstText);

  // Chat completions and Responses take it too.
  const chatBiased = await chat({ logit_bias: { [cat]: 100 }, ignore_eos: true, max_tokens: 3 });
  assert.deepEqual(chatText(chatBiased).trim().split(' '), [word, word, word]);
  const responseBiased = await respond({ logit_bias: { [cat]: 100 }, ignore_eos: true, max_output_tokens: 3 });
  assert.equal(responseBiased.status, 200, JSON.stringify(responseBiased.body));
  assert.deepEqual((responseBiased.body.output_text as string).trim().split(' '), [word, word, word]);
});

test('logit_bias: ids outside the vocabulary and biases outside [-100, 100] are 400s', async () => {
  const outside = await complete({ logit_bias: { [tokenizer.vocabSize]: 5 } });
  assert.equal(outside.status, 400);
  assert.equal(outside.body.error.param, `logit_bias.${tokenizer.vocabSize}`);
  const tooBig = await complete({ logit_bias: { 5: 101 } });
  assert.equal(tooBig.status, 400);
  assert.equal(tooBig.body.error.param, 'logit_bias.5');
  const notId = await complete({ logit_bias: { cat: 1 } });
  assert.equal(notId.status, 400);
});

test('repetition_penalty changes greedy output and discourages repeats', async () => {
  const plain = completionText(await complete({ max_tokens: 40, ignore_eos: true }));
  const penalized = await complete({ max_tokens: 40, ignore_eos: true, repetition_penalty: 3 });
  assert.equal(penalized.status, 200, JSON.stringify(penalized.body));
  const text = completionText(penalized);
  assert.notEqual(text, plain);
  const distinct = (s: string) => new Set(tokenizer.encode(s, { addBos: false })).size / tokenizer.encode(s, { addBos: false }).length;
  assert.ok(distinct(text) > distinct(plain), `${distinct(text)} vs ${distinct(plain)}`);
  assert.equal((await complete({ repetition_penalty: 0 })).status, 400);
});

test('user (or safety_identifier) is a field of the request log line, quoted', async () => {
  assert.equal((await chat({ user: 'alice "the tester"\nforged' })).status, 200);
  assert.equal((await complete({ safety_identifier: 'bob' })).status, 200);
  assert.equal((await respond({ user: 'carol' })).status, 200);
  const lines = server.logLines.join('\n');
  assert.match(lines, /POST \/v1\/chat\/completions 200 .*user="alice \\"the tester\\"\\nforged"/);
  assert.match(lines, /POST \/v1\/completions 200 .*user="bob"/);
  assert.match(lines, /POST \/v1\/responses 200 .*user="carol"/);
});

function assertUnsupported(res: Awaited<ReturnType<typeof post>>, param: string): void {
  assert.equal(res.status, 400, `${param}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.type, 'invalid_request_error');
  assert.equal(res.body.error.param, param);
  assert.equal(res.body.error.code, 'unsupported_parameter');
  assert.ok(res.body.error.message.includes(param.split('[')[0]!.split('.')[0]!));
}

test('parameters the server does not honour are 400 unsupported_parameter naming them', async () => {
  const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
  for (const [field, value] of Object.entries({
    functions: [{ name: 'f' }],
    function_call: 'auto',
    reasoning_effort: 'low',
    store: true,
    service_tier: 'flex',
    modalities: ['text', 'audio'],
  })) {
    assertUnsupported(await chat({ [field]: value }), field);
  }
  // stories260K has no chat template, so no tool-call format to render or parse calls in.
  assertUnsupported(await chat({ tools }), 'tools');
  assertUnsupported(await chat({ messages: [{ role: 'user', content: 'Hi', name: 'alice' }] }), 'messages[0].name');
  for (const [field, value] of Object.entries({
    include: ['reasoning.encrypted_content'],
    reasoning: { effort: 'low' },
    truncation: 'auto',
    max_tool_calls: 3,
  })) {
    assertUnsupported(await respond({ [field]: value }), field);
  }
  assertUnsupported(await complete({ service_tier: 'auto' }), 'service_tier');
});

test('fields no route knows are refused, at any depth, instead of dropped', async () => {
  assertUnsupported(await chat({ temprature: 0.5 }), 'temprature');
  assertUnsupported(await chat({ messages: [{ role: 'user', content: 'Hi', audio: {} }] }), 'messages[0].audio');
  assertUnsupported(await chat({ stream_options: { include_usage: true, include_obfuscation: false } }), 'stream_options.include_obfuscation');
  assertUnsupported(await complete({ best_of_n: 2 }), 'best_of_n');
  assertUnsupported(await respond({ text: { format: { type: 'text' }, verbosity: 'low' } }), 'text.verbosity');
  assertUnsupported(await respond({ input: [{ role: 'user', content: 'Hi', extra: 1 }] }), 'input[0].extra');
  assertUnsupported(await post(server.origin, '/v1/conversations', { metadata: {}, title: 'x' }), 'title');
});

test('values that ask for nothing beyond what the server does are accepted', async () => {
  assert.equal((await chat({ tool_choice: 'none', store: false, modalities: ['text'], parallel_tool_calls: null })).status, 200);
  assert.equal((await respond({ include: [], truncation: 'disabled', tool_choice: 'none' })).status, 200);
});

test('chat_template_kwargs are accepted as template variables; names the server sets and non-scalars are 400s', async () => {
  // stories260K has no template of its own: the fallback ignores the variable, the request runs.
  assert.equal((await chat({ chat_template_kwargs: { enable_thinking: false } })).status, 200);
  for (const [kwargs, param] of [[{ messages: 'x' }, 'chat_template_kwargs.messages'], [{ 'a-b': 1 }, 'chat_template_kwargs.a-b'], [{ x: [1] }, 'chat_template_kwargs.x']] as const) {
    const res = await chat({ chat_template_kwargs: kwargs });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.param, param);
  }
});
