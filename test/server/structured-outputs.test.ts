// Structured outputs over HTTP, against the real server and the stories260K model (which writes
// children's stories when left alone): response_format json_schema (strict) and json_object in
// Chat Completions, text.format in Responses, streamed and not, and the official openai
// client's own helpers — chat.completions.parse with zodResponseFormat, responses.parse with
// zodTextFormat. Unsupported schema features are 400s naming them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { zodResponseFormat, zodTextFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { validate } from '../engine/grammar/schema-validator.js';
import { MODEL_ID, post, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 20 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    pets: { type: 'array', items: { enum: ['cat', 'dog', 'fish'] }, maxItems: 3 },
    nickname: { type: ['string', 'null'], maxLength: 10 },
  },
  required: ['name', 'age', 'pets', 'nickname'],
  additionalProperties: false,
};

const chat = (extra: Record<string, unknown>) =>
  post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'Tell me about a person.' }], max_tokens: 300, ...extra });

test('chat completions, response_format json_schema strict: the content validates, greedy and sampled', async () => {
  for (const sampling of [{ temperature: 0 }, { temperature: 1, seed: 1 }, { temperature: 1, seed: 2, top_p: 0.9 }]) {
    const res = await chat({ ...sampling, response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: PERSON } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const choice = (res.body.choices as Array<{ message: { content: string }; finish_reason: string }>)[0]!;
    assert.equal(choice.finish_reason, 'stop', choice.message.content);
    assert.equal(validate(JSON.parse(choice.message.content), PERSON), null, choice.message.content);
    console.log(`${JSON.stringify(sampling)}: ${choice.message.content}`);
  }
});

test('chat completions streamed: the deltas join to content that validates', async () => {
  const stream = await server.client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'Hi' }],
    max_tokens: 300,
    temperature: 1,
    seed: 7,
    stream: true,
    response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: PERSON } },
  });
  let text = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'stop', text);
  assert.equal(validate(JSON.parse(text), PERSON), null, text);
});

test('response_format json_object: a JSON object (short max_tokens may cut it: finish_reason says so)', async () => {
  const res = await chat({ temperature: 0, max_tokens: 200, response_format: { type: 'json_object' } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const choice = (res.body.choices as Array<{ message: { content: string }; finish_reason: string }>)[0]!;
  assert.ok(choice.message.content.startsWith('{'), choice.message.content);
  if (choice.finish_reason === 'stop') assert.equal(typeof JSON.parse(choice.message.content), 'object');
  else assert.equal(choice.finish_reason, 'length');
});

test('an unsupported schema feature is a 400 naming it, in the OpenAI error shape', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]+$' } }, required: ['code'] }, /'pattern'.*#\/properties\/code/],
    [{ type: 'object', properties: { when: { type: 'string', format: 'date-time' } } }, /'format'/],
    [{ allOf: [{ type: 'object' }] }, /'allOf'/],
    [{ type: 'array', items: { type: 'integer' }, uniqueItems: true }, /'uniqueItems'/],
  ];
  for (const [schema, message] of cases) {
    const res = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema } } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.type, 'invalid_request_error');
    assert.equal(res.body.error.param, 'response_format');
    assert.match(res.body.error.message, message);
  }
  const regex = await chat({ response_format: { type: 'regex', pattern: 'a+' } });
  assert.equal(regex.status, 400);
  assert.equal(regex.body.error.param, 'response_format.type');
  const noName = await chat({ response_format: { type: 'json_schema', json_schema: { schema: PERSON } } });
  assert.equal(noName.status, 400);
  assert.equal(noName.body.error.param, 'response_format.json_schema.name');
  const responses = await post(server.origin, '/v1/responses', {
    model: MODEL_ID, input: 'x', store: false, text: { format: { type: 'json_schema', name: 'x', schema: { type: 'string', pattern: 'a' } } },
  });
  assert.equal(responses.status, 400);
  assert.equal(responses.body.error.param, 'text.format');
  assert.match(responses.body.error.message, /'pattern'/);
});

test('Responses text.format json_schema: output_text validates, and the response echoes the format', async () => {
  const format = { type: 'json_schema', name: 'person', strict: true, schema: PERSON };
  const res = await post(server.origin, '/v1/responses', { model: MODEL_ID, input: 'A person', max_output_tokens: 300, temperature: 1, seed: 3, text: { format } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, 'completed');
  assert.equal(validate(JSON.parse(res.body.output_text as string), PERSON), null, res.body.output_text as string);
  assert.deepEqual((res.body.text as { format: unknown }).format, format);
});

const Recipe = z.object({
  title: z.string().max(24),
  servings: z.number().int().min(1).max(12),
  vegetarian: z.boolean(),
  steps: z.array(z.object({ order: z.number().int().min(1).max(9), text: z.string().max(16) })).max(3),
  difficulty: z.enum(['easy', 'medium', 'hard']),
  note: z.string().max(8).nullable(),
});

test('the openai client: chat.completions.parse with zodResponseFormat returns a parsed, valid object', async () => {
  for (const seed of [1, 2, 3]) {
    const completion = await server.client.chat.completions.parse({
      model: MODEL_ID,
      messages: [{ role: 'user', content: 'A recipe, please.' }],
      max_tokens: 400,
      temperature: 1,
      seed,
      response_format: zodResponseFormat(Recipe, 'recipe'),
    });
    const message = completion.choices[0]!.message;
    assert.equal(completion.choices[0]!.finish_reason, 'stop', message.content ?? '');
    assert.ok(message.parsed !== null, message.content ?? '');
    assert.deepEqual(Recipe.parse(message.parsed), message.parsed);
    console.log(`parse (seed ${seed}): ${JSON.stringify(message.parsed)}`);
  }
});

test('the openai client: responses.parse with zodTextFormat returns output_parsed', async () => {
  const response = await server.client.responses.parse({
    model: MODEL_ID,
    input: 'A recipe, please.',
    max_output_tokens: 400,
    temperature: 1,
    store: false,
    text: { format: zodTextFormat(Recipe, 'recipe') },
  });
  assert.equal(response.status, 'completed', response.output_text);
  assert.ok(response.output_parsed !== null, response.output_text);
  assert.deepEqual(Recipe.parse(response.output_parsed), response.output_parsed);
});
