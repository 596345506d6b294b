// Chat templates rendered from the models' real tokenizer_config.json files, compared with
// the prompt formats the model authors document, for one conversation:
// system + user + assistant + user, with the generation prompt.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  ChatTemplateError,
  FALLBACK_CHAT_TEMPLATE,
  chatTemplateFromConfig,
  loadChatTemplateFromDir,
  renderChat,
  supportsSystemRole,
  type ChatMessage,
} from '../../src/model/chat-template.js';

const TOKENIZERS = fileURLToPath(new URL('../../../shared/tokenizers/', import.meta.url));

function templateOf(file: string): string {
  const template = chatTemplateFromConfig(JSON.parse(readFileSync(TOKENIZERS + file, 'utf8')));
  assert.ok(template !== null, `${file} has a chat template`);
  return template;
}

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: 'Hi!' },
  { role: 'assistant', content: 'Hello! How can I help?' },
  { role: 'user', content: 'What is 2+2?' },
];

describe('renderChat with real templates', () => {
  test('Llama-2-chat: [INST] turns, system prompt in <<SYS>> inside the first turn', () => {
    const out = renderChat(templateOf('chat_templates/meta-llama_Llama-2-7b-chat-hf.tokenizer_config.json'), conversation, {
      addGenerationPrompt: true,
      bosToken: '<s>',
      eosToken: '</s>',
    });
    assert.equal(
      out,
      '<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi! [/INST] Hello! How can I help? </s><s>[INST] What is 2+2? [/INST]',
    );
  });

  test('Llama-3-Instruct: header ids, <|eot_id|> after each turn, open assistant header', () => {
    const out = renderChat(templateOf('chat_templates/meta-llama_Meta-Llama-3-8B-Instruct.tokenizer_config.json'), conversation, {
      addGenerationPrompt: true,
      bosToken: '<|begin_of_text|>',
      eosToken: '<|eot_id|>',
    });
    assert.equal(
      out,
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  test('Llama-3.1-Instruct: knowledge-cutoff and date lines in the system turn', () => {
    const out = renderChat(templateOf('chat_templates/meta-llama_Meta-Llama-3.1-8B-Instruct.tokenizer_config.json'), conversation, {
      addGenerationPrompt: true,
      bosToken: '<|begin_of_text|>',
      extra: { date_string: '01 Mar 2025' },
    });
    assert.equal(
      out,
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 01 Mar 2025\n\nYou are helpful.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  test('Mistral-Instruct v0.3: system prompt goes into the last user turn', () => {
    const out = renderChat(templateOf('chat_templates/mistralai_Mistral-7B-Instruct-v0.3.tokenizer_config.json'), conversation, {
      addGenerationPrompt: true,
      bosToken: '<s>',
      eosToken: '</s>',
    });
    assert.equal(out, '<s>[INST] Hi![/INST] Hello! How can I help?</s>[INST] You are helpful.\n\nWhat is 2+2?[/INST]');
  });

  test('Qwen2.5: ChatML, and its default system prompt when none is given', () => {
    const template = templateOf('qwen2.5/tokenizer_config.json');
    assert.equal(
      renderChat(template, conversation, { addGenerationPrompt: true, eosToken: '<|im_end|>' }),
      '<|im_start|>system\nYou are helpful.<|im_end|>\n' +
        '<|im_start|>user\nHi!<|im_end|>\n' +
        '<|im_start|>assistant\nHello! How can I help?<|im_end|>\n' +
        '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
    assert.equal(
      renderChat(template, [{ role: 'user', content: 'Hi!' }], { addGenerationPrompt: false }),
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi!<|im_end|>\n',
    );
  });

  test('Gemma 2 (the shared copy): <start_of_turn> turns, assistant as "model", system prompt before the first user turn', () => {
    const out = renderChat(templateOf('chat_templates/google_gemma-2-2b-it.tokenizer_config.json'), conversation, {
      addGenerationPrompt: true,
      bosToken: '<bos>',
    });
    assert.equal(
      out,
      '<bos><start_of_turn>user\nYou are helpful. Hi!<end_of_turn>\n<start_of_turn>model\nHello! How can I help?<end_of_turn>\n' +
        '<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n',
    );
  });

  test('Gemma 2 as Google ships it raises on a system message: the system prompt opens the first user turn instead, as llama.cpp does', () => {
    // google/gemma-2-2b-it's original chat_template (llama.cpp keeps it as models/templates/google-gemma-2-2b-it.jinja).
    const template =
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
      "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
      "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
      "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
    assert.equal(supportsSystemRole(template), false);
    assert.equal(
      renderChat(template, conversation, { addGenerationPrompt: true, bosToken: '<bos>' }),
      '<bos><start_of_turn>user\nYou are helpful.\nHi!<end_of_turn>\n<start_of_turn>model\nHello! How can I help?<end_of_turn>\n' +
        '<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n',
    );
    assert.equal(renderChat(template, [{ role: 'system', content: 'alone' }], { addGenerationPrompt: true, bosToken: '<bos>' }), '<bos><start_of_turn>model\n');
    // Other rules of the template still hold.
    assert.throws(
      () => renderChat(template, [{ role: 'assistant', content: 'x' }], { addGenerationPrompt: true }),
      (e: unknown) => e instanceof ChatTemplateError && /roles must alternate/.test(e.message),
    );
    assert.equal(supportsSystemRole(templateOf('qwen2.5/tokenizer_config.json')), true);
  });

  test('Phi-3: <|system|>, <|user|>, <|assistant|> blocks closed by <|end|>', () => {
    const out = renderChat(templateOf('chat_templates/microsoft_Phi-3-mini-4k-instruct.tokenizer_config.json'), conversation, {
      addGenerationPrompt: true,
      bosToken: '<s>',
      eosToken: '<|endoftext|>',
    });
    assert.equal(
      out,
      '<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n' +
        '<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n',
    );
  });

  test('TinyLlama (Zephyr style, from chat_template.jinja)', () => {
    const template = loadChatTemplateFromDir(TOKENIZERS + 'tinyllama-1.1b-chat');
    assert.ok(template !== null);
    const out = renderChat(template, conversation, { addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>' });
    assert.equal(
      out,
      '<|system|>\nYou are helpful.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello! How can I help?</s>\n' +
        '<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n',
    );
  });

  test('fallback template: "Role: content" paragraphs ending in "Assistant:"', () => {
    assert.equal(
      renderChat(FALLBACK_CHAT_TEMPLATE, conversation, { addGenerationPrompt: true }),
      'System: You are helpful.\n\nUser: Hi!\n\nAssistant: Hello! How can I help?\n\nUser: What is 2+2?\n\nAssistant:',
    );
    const noPrompt = renderChat(FALLBACK_CHAT_TEMPLATE, conversation.slice(0, 2), { addGenerationPrompt: false });
    assert.equal(noPrompt, 'System: You are helpful.\n\nUser: Hi!\n\n');
  });
});

describe('renderChat errors and helpers', () => {
  test('raise_exception in a template becomes a ChatTemplateError carrying its message', () => {
    const template = templateOf('chat_templates/meta-llama_Llama-2-7b-chat-hf.tokenizer_config.json');
    const twoUsers = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }];
    assert.throws(
      () => renderChat(template, twoUsers, { addGenerationPrompt: true }),
      (e: unknown) => e instanceof ChatTemplateError && /rejected the conversation: Conversation roles must alternate/.test(e.message),
    );
  });

  test('templates that do not parse or fail at render time are reported as such', () => {
    const isErr = (re: RegExp) => (e: unknown) => e instanceof ChatTemplateError && re.test(e.message);
    assert.throws(() => renderChat('{% if %}', conversation, { addGenerationPrompt: true }), isErr(/does not parse/));
    assert.throws(() => renderChat('{{ nothing() }}', conversation, { addGenerationPrompt: true }), isErr(/failed to render/));
  });

  test('strftime_now uses the given clock, in English', () => {
    const template = "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %j') }}";
    const out = renderChat(template, [], { addGenerationPrompt: false, now: new Date(2024, 6, 26) });
    assert.equal(out, '26 Jul 2024|Friday July 208');
  });

  test('chatTemplateFromConfig: string, named list ("default"), absent, malformed', () => {
    assert.equal(chatTemplateFromConfig({ chat_template: 'T' }), 'T');
    const named = [{ name: 'tool_use', template: 'X' }, { name: 'default', template: 'D' }];
    assert.equal(chatTemplateFromConfig({ chat_template: named }), 'D');
    assert.equal(chatTemplateFromConfig({}), null);
    assert.throws(() => chatTemplateFromConfig({ chat_template: named.slice(0, 1) }), /no "default" entry \(has: tool_use\)/);
    assert.throws(() => chatTemplateFromConfig({ chat_template: 3 }), ChatTemplateError);
    assert.throws(() => chatTemplateFromConfig('nope'), ChatTemplateError);
  });
});

describe('chat_template_kwargs (Qwen3 enable_thinking)', () => {
  // The generation-prompt tail of Qwen3's template: an empty think block when thinking is off.
  const QWEN3_TAIL = "{{ '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}";
  const user: ChatMessage[] = [{ role: 'user', content: 'Hi' }];

  test('a kwarg reaches the template; unset, the template sees it undefined', () => {
    assert.equal(renderChat(QWEN3_TAIL, user, { addGenerationPrompt: true }), '<|im_start|>assistant\n');
    assert.equal(renderChat(QWEN3_TAIL, user, { addGenerationPrompt: true, templateKwargs: { enable_thinking: true } }), '<|im_start|>assistant\n');
    assert.equal(renderChat(QWEN3_TAIL, user, { addGenerationPrompt: true, templateKwargs: { enable_thinking: false } }), '<|im_start|>assistant\n<think>\n\n</think>\n\n');
  });

  test('kwargs cannot replace what the renderer sets', () => {
    for (const name of ['messages', 'add_generation_prompt', 'raise_exception', 'bos_token', 'not-a-name']) {
      assert.throws(() => renderChat('{{ messages | length }}', user, { addGenerationPrompt: true, templateKwargs: { [name]: 1 } }), ChatTemplateError, name);
    }
  });

  // Qwen3's own template as llama.cpp's tests carry it (models/templates/Qwen-Qwen3-0.6B.jinja),
  // where that source is checked out (the benchmark's llama.cpp build); not in CI.
  const llamaCpp = process.env.PENSIEVE_LLAMA_CPP_DIR ?? fileURLToPath(new URL('../../.pensieve/llama.cpp/', import.meta.url));
  const qwen3File = join(llamaCpp, 'models/templates/Qwen-Qwen3-0.6B.jinja');
  test('Qwen3\'s own template: thinking off adds an empty think block; earlier turns lose their reasoning', { skip: !existsSync(qwen3File) && `no ${qwen3File}` }, () => {
    const template = readFileSync(qwen3File, 'utf8');
    const turns: ChatMessage[] = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: '<think>\nGreet back.\n</think>\n\nHello! How can I help?' },
      { role: 'user', content: 'What is 2+2?' },
    ];
    const head = '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n'
      + '<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n';
    assert.equal(renderChat(template, turns, { addGenerationPrompt: true }), head);
    assert.equal(renderChat(template, turns, { addGenerationPrompt: true, templateKwargs: { enable_thinking: false } }), `${head}<think>\n\n</think>\n\n`);
    // The answer after the last question keeps its reasoning.
    const answered = renderChat(template, [...turns, { role: 'assistant', content: '<think>\nadd\n</think>\n\n4' }], { addGenerationPrompt: false });
    assert.ok(answered.endsWith('<|im_start|>assistant\n<think>\nadd\n</think>\n\n4<|im_end|>\n'), answered);
  });
});
