// Tool calling over HTTP with the official openai client, against the real server: the random
// stories260K model (it writes children's stories, never a call of its own) given Qwen2.5's real
// chat template, so every call here is one the grammar forced — tool_choice "required" or a named
// function — and is asserted to parse and validate against its parameters schema even though the
// text inside it is noise. Chat Completions (whole, streamed, and openai-node's runTools loop),
// the Responses API chained by previous_response_id (each turn computes only its new tokens),
// and the 400s for what cannot be honoured.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { validate } from '../engine/grammar/schema-validator.js';
import { SHARED } from '../helpers/paths.js';
import { assertError, MODEL_ID, post, startServer, type TestServer } from './helpers.js';

const QWEN_TEMPLATE = join(SHARED, 'tokenizers/qwen2.5/tokenizer_config.json');
const LLAMA_TEMPLATE = join(SHARED, 'tokenizers/chat_templates/meta-llama_Meta-Llama-3.1-8B-Instruct.tokenizer_config.json');

const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string', minLength: 1, maxLength: 16 }, days: { type: 'integer', minimum: 1, maximum: 7 }, units: { enum: ['C', 'F'] } },
  required: ['city', 'days', 'units'],
  additionalProperties: false,
};
const TIME = { type: 'object', properties: { zone: { type: 'string', maxLength: 20 } }, required: ['zone'], additionalProperties: false };
// A small one for the long loop: stories260K's 512-token vocabulary spells text nearly letter by
// letter, and 12 turns of a bigger call would not fit its 2048-token context.
const STEP = { type: 'object', properties: { n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['n'], additionalProperties: false };
const SCHEMAS: Record<string, object> = { get_weather: WEATHER, get_time: TIME, step: STEP };
const CHAT_TOOLS: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather forecast for a city', parameters: WEATHER, strict: true } },
  { type: 'function', function: { name: 'get_time', description: 'Local time in a zone', parameters: TIME, strict: true } },
];
const RESPONSES_TOOLS: OpenAI.Responses.FunctionTool[] = CHAT_TOOLS.map((t) => ({
  type: 'function', name: (t as OpenAI.Chat.ChatCompletionFunctionTool).function.name, parameters: (t as OpenAI.Chat.ChatCompletionFunctionTool).function.parameters!, strict: true,
}));

/** The call parses and validates against its function's schema. */
function assertValidCall(name: string, args: string): void {
  const schema = SCHEMAS[name] as Parameters<typeof validate>[1];
  assert.ok(schema, `unknown function ${name}`);
  assert.equal(validate(JSON.parse(args), schema), null, args);
}

describe('Hermes template (Qwen2.5)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ chatTemplate: QWEN_TEMPLATE });
  });
  after(() => server?.close());

  test('tool_choice required: one call that validates, finish_reason tool_calls, content null; greedy and sampled', async () => {
    for (const sampling of [{ temperature: 0 }, { temperature: 1, seed: 1 }, { temperature: 1, seed: 2, top_p: 0.9 }]) {
      const r = await server.client.chat.completions.create({
        model: MODEL_ID, messages: [{ role: 'user', content: 'Weather in Bern?' }], tools: CHAT_TOOLS, tool_choice: 'required',
        parallel_tool_calls: false, max_tokens: 200, ...sampling,
      });
      const choice = r.choices[0]!;
      assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
      assert.equal(choice.message.content, null);
      assert.equal(choice.message.tool_calls?.length, 1);
      const call = choice.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
      assert.match(call.id, /^call_/);
      assert.equal(call.type, 'function');
      assertValidCall(call.function.name, call.function.arguments);
    }
  });

  test('a named function is the one called', async () => {
    for (const name of ['get_time', 'get_weather']) {
      const r = await server.client.chat.completions.create({
        model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], tools: CHAT_TOOLS, tool_choice: { type: 'function', function: { name } },
        max_tokens: 200, temperature: 1, seed: 5,
      });
      const calls = r.choices[0]!.message.tool_calls! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
      assert.ok(calls.length >= 1, JSON.stringify(r.choices[0]));
      for (const c of calls.slice(0, r.choices[0]!.finish_reason === 'length' ? -1 : undefined)) {
        assert.equal(c.function.name, name);
        assertValidCall(c.function.name, c.function.arguments);
      }
    }
  });

  test('streamed: the call\'s id, type and name come first, then its arguments in pieces that join to a valid call', async () => {
    const stream = await server.client.chat.completions.create({
      model: MODEL_ID, messages: [{ role: 'user', content: 'Time?' }], tools: CHAT_TOOLS, tool_choice: 'required', parallel_tool_calls: false,
      max_tokens: 200, temperature: 1, seed: 11, stream: true,
    });
    const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
      assert.equal(chunk.choices[0]?.delta.content ?? '', '');
    }
    assert.equal(finish, 'tool_calls');
    assert.ok(deltas.length > 2);
    const [head, ...rest] = deltas;
    assert.match(head!.id!, /^call_/);
    assert.equal(head!.type, 'function');
    assert.equal(head!.function?.arguments, '');
    for (const d of rest) {
      assert.equal(d.index, 0);
      assert.equal(d.id, undefined);
      assert.equal(d.function?.name, undefined);
    }
    assertValidCall(head!.function!.name!, rest.map((d) => d.function!.arguments).join(''));
  });

  test('openai-node runTools: a multi-step loop, each call run and answered, the resent history found in the prefix cache', async () => {
    const seen: Array<{ city: string; days: number; units: string }> = [];
    const prompts: Array<{ prompt: number; cached: number }> = [];
    const runner = server.client.chat.completions.runTools({
      model: MODEL_ID,
      messages: [{ role: 'system', content: 'You plan trips.' }, { role: 'user', content: 'Plan a week in the Alps.' }],
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather', description: 'Weather forecast for a city', parameters: WEATHER, strict: true,
          parse: JSON.parse,
          function: (args: { city: string; days: number; units: string }) => {
            seen.push(args);
            return { forecast: 'sunny', high: 20 + seen.length };
          },
        },
      }],
      tool_choice: 'required', parallel_tool_calls: false, max_tokens: 120, temperature: 1, seed: 3,
    }, { maxChatCompletions: 4 });
    runner.on('chatCompletion', (c) => prompts.push({ prompt: c.usage!.prompt_tokens, cached: c.usage!.prompt_tokens_details!.cached_tokens! }));
    await runner.done();
    assert.equal(seen.length, 4);
    for (const args of seen) assert.equal(validate(args, WEATHER), null, JSON.stringify(args));
    const messages = runner.messages;
    assert.equal(messages.filter((m) => m.role === 'tool').length, 4);
    assert.equal(messages.filter((m) => m.role === 'assistant').length, 4);
    // Each resend renders the earlier calls exactly as the model wrote them, so the prompt of the
    // previous step (its full blocks) is found in the prefix cache.
    for (let i = 1; i < prompts.length; i++) {
      assert.ok(prompts[i]!.cached >= Math.floor(prompts[i - 1]!.prompt / 16) * 16, JSON.stringify(prompts));
    }
  });

  test('Responses: a 12-turn agent loop chained by previous_response_id; each turn computes only its new tokens', async () => {
    let previous: OpenAI.Responses.Response | null = null;
    let input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: 'Count.' }];
    const tools: OpenAI.Responses.FunctionTool[] = [{ type: 'function', name: 'step', parameters: STEP, strict: true }];
    for (let turn = 0; turn < 12; turn++) {
      const r: OpenAI.Responses.Response = await server.client.responses.create({
        model: MODEL_ID, input, tools, tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 100,
        temperature: 1, instructions: 'Agent.',
        ...({ seed: turn } as object), // vLLM's sampling fields, which the openai types do not list
        ...(previous === null ? {} : { previous_response_id: previous.id }),
      });
      assert.equal(r.status, 'completed', JSON.stringify(r.output));
      const calls = r.output.filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call');
      assert.equal(calls.length, 1, JSON.stringify(r.output));
      assertValidCall(calls[0]!.name, calls[0]!.arguments);
      assert.match(calls[0]!.id!, /^fc_/);
      const usage = r.usage!;
      if (previous !== null) {
        // Everything before this turn (the previous prompt and reply) is reused; only the
        // function's output and the new assistant header are computed.
        assert.equal(usage.input_tokens_details.cached_tokens, previous.usage!.input_tokens + previous.usage!.output_tokens, `turn ${turn}`);
        const computed = (usage as unknown as { pensieve: { computed_prompt_tokens: number } }).pensieve.computed_prompt_tokens;
        assert.equal(computed, usage.input_tokens - usage.input_tokens_details.cached_tokens);
        assert.ok(computed < 80, JSON.stringify(usage));
      }
      previous = r;
      input = [{ type: 'function_call_output', call_id: calls[0]!.call_id, output: String(turn) }];
    }
    // The chain's input items are stored as sent: the last turn's is the function's output.
    const items = await server.client.responses.inputItems.list(previous!.id);
    assert.equal(items.data[0]!.type, 'function_call_output');
  });

  test('Responses streamed: output_item.added, function_call_arguments.delta pieces, .done, output_item.done', async () => {
    const stream = server.client.responses.stream({
      model: MODEL_ID, input: 'What time is it in Tokyo?', tools: RESPONSES_TOOLS, tool_choice: { type: 'function', name: 'get_time' },
      parallel_tool_calls: false, max_output_tokens: 100, temperature: 1,
      ...({ seed: 4 } as object),
    });
    const types: string[] = [];
    let args = '';
    let done: string | null = null;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
      if (ev.type === 'response.function_call_arguments.done') done = ev.arguments;
    }
    const final = await stream.finalResponse();
    const call = final.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    assert.equal(call.type, 'function_call');
    assert.equal(call.name, 'get_time');
    assert.equal(args, call.arguments);
    assert.equal(done, call.arguments);
    assertValidCall(call.name, call.arguments);
    const distinct = types.filter((t, i) => t !== types[i - 1]);
    assert.deepEqual(distinct, [
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done', 'response.completed',
    ]);
    const stored = await server.client.responses.retrieve(final.id);
    assert.deepEqual(stored.output, final.output.map((o) => ({ ...o, parsed_arguments: undefined })).map(({ parsed_arguments: _, ...o }) => o));
  });

  test('tool_choice auto: free text, no call parsed out of noise; none: the same', async () => {
    for (const tool_choice of ['auto', 'none'] as const) {
      const r = await server.client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], tools: CHAT_TOOLS, tool_choice, max_tokens: 20, temperature: 0 });
      assert.equal(r.choices[0]!.message.tool_calls, undefined);
      assert.ok(typeof r.choices[0]!.message.content === 'string');
      assert.equal(r.choices[0]!.finish_reason, 'length');
    }
  });

  test('bad tool input is a 400 naming the field', async () => {
    const chat = (extra: Record<string, unknown>) => post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, ...extra });
    const respond = (extra: Record<string, unknown>) => post(server.origin, '/v1/responses', { model: MODEL_ID, input: 'Hi', max_output_tokens: 5, ...extra });
    assertError(await chat({ tools: CHAT_TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }), 400, { param: 'tool_choice' });
    assertError(await chat({ tool_choice: 'required' }), 400, { param: 'tool_choice' });
    assertError(await chat({ tools: [{ type: 'function', function: { name: 'bad name!' } }] }), 400, { param: 'tools[0].function.name' });
    assertError(await chat({ tools: [{ type: 'retrieval' }] }), 400, { param: 'tools[0].type' });
    assertError(await chat({ tools: [CHAT_TOOLS[0], CHAT_TOOLS[0]] }), 400, { param: 'tools[1]' });
    const pattern = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]+$' } } } } };
    assertError(await chat({ tools: [pattern], tool_choice: 'required' }), 400, { param: 'tools[0].function.parameters', code: 'unsupported_value' });
    assertError(await chat({ tools: CHAT_TOOLS, tool_choice: 'required', response_format: { type: 'json_object' } }), 400, { param: 'tool_choice' });
    assertError(await chat({ messages: [{ role: 'user', content: 'Hi' }, { role: 'tool', content: 'x', tool_call_id: 'call_x' }] }), 400, { param: 'messages[1].tool_call_id' });
    assertError(await chat({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }), 400, { param: 'messages[1].tool_calls[0].id' });
    assertError(await chat({ messages: [{ role: 'user', content: 'Hi', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }), 400, { param: 'messages[0].tool_calls' });
    assertError(await chat({ messages: [{ role: 'assistant' }] }), 400, { param: 'messages[0].content' });
    assertError(await respond({ input: [{ type: 'function_call_output', call_id: 'call_nope', output: '1' }] }), 400, { param: 'input[0].call_id' });
    assertError(await respond({ tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: { a: { format: 'date' } } } }], tool_choice: 'required' }), 400, { param: 'tools[0].parameters' });
    assertError(await respond({ tools: RESPONSES_TOOLS, tool_choice: { type: 'function', name: 'nope' } }), 400, { param: 'tool_choice' });
  });

  test('a history with calls and their results, as a client resends it, is accepted and rendered; /tokenize counts the same prompt', async () => {
    const r = await server.client.chat.completions.create({
      model: MODEL_ID, max_tokens: 5, temperature: 0, tools: CHAT_TOOLS,
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Bern", "days": 1, "units": "C"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"high": 21}' },
      ],
    });
    assert.ok(r.usage!.prompt_tokens > 0);
    const tokenized = await post(server.origin, '/tokenize', {
      model: MODEL_ID, tools: CHAT_TOOLS, messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Bern", "days": 1, "units": "C"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"high": 21}' },
      ],
    });
    assert.equal(tokenized.status, 200, JSON.stringify(tokenized.body));
    // /tokenize renders the tools into the prompt the same way.
    assert.equal(tokenized.body.count, r.usage!.prompt_tokens);
  });
});

describe('Llama 3.1 JSON template', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ chatTemplate: LLAMA_TEMPLATE });
  });
  after(() => server?.close());

  test('tool_choice required: a bare {"name", "parameters"} call, parsed into tool_calls', async () => {
    const r = await server.client.chat.completions.create({
      model: MODEL_ID, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: CHAT_TOOLS, tool_choice: 'required', max_tokens: 200, temperature: 1, seed: 9,
    });
    const choice = r.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
    assert.equal(choice.message.tool_calls?.length, 1);
    const call = choice.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    assertValidCall(call.function.name, call.function.arguments);
  });
});
