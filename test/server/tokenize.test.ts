// /tokenize and /detokenize (vLLM's shapes), and --served-model-name aliases.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { servedNames } from '../../src/cli/serve.js';
import { assertError, MODEL_ID, post, startServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startServer({ cacheMode: 'prefix', servedModelNames: ['stories', 'tiny-llama'] });
});
after(() => server?.close());

const messages = [{ role: 'user', content: 'Tell me a story about a boat.' }];

test('/tokenize counts a chat prompt exactly as a chat request does, and /detokenize inverts it', async () => {
  const res = await post(server.origin, '/tokenize', { model: 'stories', messages, return_token_strs: true });
  assert.equal(res.status, 200);
  const t = res.body as unknown as { count: number; max_model_len: number; tokens: number[]; token_strs: string[] };
  assert.equal(t.count, t.tokens.length);
  assert.equal(t.max_model_len, server.engine.model.contextLength);
  assert.equal(t.token_strs.length, t.count);

  const chat = await server.client.chat.completions.create({ model: 'stories', messages: messages as never, max_tokens: 1 });
  assert.equal(chat.usage!.prompt_tokens, t.count);

  const back = await post(server.origin, '/detokenize', { model: 'stories', tokens: t.tokens });
  const text = (back.body as unknown as { prompt: string }).prompt;
  assert.ok(text.includes('Tell me a story about a boat.'), text);
});

test('/tokenize of text: ids, BOS as a completion gets it, token strings spell the text', async () => {
  const res = await post(server.origin, '/tokenize', { prompt: 'Once upon a time', return_token_strs: true });
  const t = res.body as unknown as { count: number; tokens: number[]; token_strs: string[] | null };
  const done = await server.client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 1 });
  assert.equal(done.usage!.prompt_tokens, t.count);
  assert.ok(t.token_strs!.join('').endsWith('Once upon a time'));
  const plain = (await post(server.origin, '/tokenize', { prompt: 'Once upon a time' })).body as unknown as { token_strs: unknown };
  assert.equal(plain.token_strs, null);
});

test('bad input is a 400 naming the field; an unknown model a 404', async () => {
  assertError(await post(server.origin, '/detokenize', { tokens: [1, 99_999_999] }), 400, { param: 'tokens' });
  assertError(await post(server.origin, '/detokenize', { tokens: 'x' }), 400, { param: 'tokens' });
  assertError(await post(server.origin, '/tokenize', { prompt: 5 }), 400, { param: 'prompt' });
  assertError(await post(server.origin, '/tokenize', { prompt: 'x', add_special_tokens: false }), 400, { param: 'add_special_tokens' });
  assertError(await post(server.origin, '/tokenize', { messages: [], model: 'stories' }), 400, { param: 'messages' });
  assertError(await post(server.origin, '/tokenize', { prompt: 'x', model: MODEL_ID }), 404, { param: 'model' });
});

test('--served-model-name: every alias is listed and answers, replies echo the name used, the file id is not served', async () => {
  const models = await server.client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['stories', 'tiny-llama']);
  const r = await server.client.chat.completions.create({ model: 'tiny-llama', messages: messages as never, max_tokens: 2 });
  assert.equal(r.model, 'tiny-llama');
  const resp = await server.client.responses.create({ model: 'tiny-llama', input: 'Hi', max_output_tokens: 2 });
  assert.equal(resp.model, 'tiny-llama');
  assertError(await post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages, max_tokens: 1 }), 404, { param: 'model' });
  assert.equal((await server.client.models.retrieve('stories')).id, 'stories');
});

test('servedNames splits commas, drops repeats and refuses empty names', () => {
  assert.deepEqual(servedNames(['a,b', 'a']), ['a', 'b']);
  assert.equal(servedNames(undefined), undefined);
  assert.throws(() => servedNames(['a,']), /non-empty/);
});
