// reasoning_tokens in usage: the generated tokens a thinking model spent inside its <think>
// block. Counted per token from the text each added (ReasoningTokenCounter), and reported by
// Chat Completions (completion_tokens_details) and Responses (output_tokens_details).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ReasoningTokenCounter } from '../../src/server/reasoning-tokens.js';
import { MODEL_ID, post, startServer, type TestServer } from './helpers.js';

const count = (opensInPrompt: boolean, pieces: string[]) => {
  const c = new ReasoningTokenCounter(opensInPrompt);
  for (const p of pieces) c.push(p);
  return c.count;
};

test('counts the tokens of the think block, its closing tag included, and none after it', () => {
  assert.equal(count(true, ['Let', ' me', ' think', '</', 'think', '>', '\n\n', 'Blue', '.']), 6);
  assert.equal(count(false, ['<think>', 'Hmm', '</think>', 'Answer']), 3);
  assert.equal(count(false, ['\n', '<th', 'ink>', 'x', '</think>', 'y']), 5);
  assert.equal(count(true, ['never', ' closes']), 2);
  assert.equal(count(false, ['Plain', ' answer', ' </think>']), 0);
  assert.equal(count(false, ['<th', 'is is not thinking']), 0);
  assert.equal(count(false, []), 0);
});

describe('usage over HTTP with a template that opens a think block in the generation prompt', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'pensieve-think-'));
  before(async () => {
    const template = join(dir, 'think.jinja');
    // Opens <think> for the reply; earlier replies are rendered after their </think>.
    writeFileSync(template, "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% if m['role'] == 'assistant' %}</think>{% endif %}{% endfor %}{% if add_generation_prompt %}assistant: <think>\n{% endif %}");
    server = await startServer({ chatTemplate: template });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a reply that never leaves its think block: every completion token is reasoning (chat and Responses)', async () => {
    const res = await post(server.origin, '/v1/chat/completions', { model: MODEL_ID, messages: [{ role: 'user', content: 'Why?' }], max_tokens: 12, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const usage = res.body.usage as { completion_tokens: number; completion_tokens_details: { reasoning_tokens: number } };
    assert.equal(usage.completion_tokens, 12);
    assert.equal(usage.completion_tokens_details.reasoning_tokens, 12);
    const r = await server.client.responses.create({ model: MODEL_ID, input: 'Why?', max_output_tokens: 12, temperature: 0 });
    assert.equal(r.usage!.output_tokens_details.reasoning_tokens, r.usage!.output_tokens);
  });
});
