// chat_template_kwargs travel with a chat prompt to the template (Qwen3's enable_thinking): the
// prompt the engine tokenizes is the one the template renders with them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPrompt } from '../../src/engine/prompt.js';
import { byteTokenizer } from '../../src/model/tokenizer/index.js';

const TEMPLATE = "{% for m in messages %}{{ m.role + ': ' + m.content + '\\n' }}{% endfor %}"
  + "{% if add_generation_prompt %}{{ 'assistant: ' }}{% if enable_thinking is defined and enable_thinking is false %}{{ '<think></think>' }}{% endif %}{% endif %}";

test('enable_thinking: false reaches the template and the tokens', () => {
  const tokenizer = byteTokenizer();
  const model = { tokenizer, chatTemplate: TEMPLATE, vocabSize: tokenizer.vocabSize, maxBytesPerToken: Infinity };
  const messages = [{ role: 'user', content: 'Hi' }];
  const plain = buildPrompt(model, { kind: 'chat', messages }, 1000);
  const off = buildPrompt(model, { kind: 'chat', messages, templateKwargs: { enable_thinking: false } }, 1000);
  assert.equal(plain.text, 'user: Hi\nassistant: ');
  assert.equal(off.text, 'user: Hi\nassistant: <think></think>');
  assert.deepEqual(off.tokens.slice(0, plain.tokens.length), plain.tokens);
  assert.deepEqual(tokenizer.decode(off.tokens.slice(plain.tokens.length)), '<think></think>');
});
