// Tool calls in each family's own syntax, against the real chat templates: a call rendered by the
// template (as the history of the next turn shows it) is found by toolSyntaxOf, parsed back to
// the same name and arguments by the output parser however the text is cut into stream pieces,
// and accepted byte for byte by the grammar a forced call is generated with — so a forced call
// re-renders as the very text the model wrote, and its KV is reused on the next turn.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { advanceBytes, initialStacks, isAccepting } from '../../src/engine/grammar/automaton.js';
import { compileFormat } from '../../src/engine/grammar/format.js';
import { chatTemplateFromConfig, renderChat, type ChatMessage } from '../../src/model/chat-template.js';
import { OutputParser, type OutputEvent } from '../../src/model/output-parser.js';
import { toolSyntaxOf, type ToolSyntax } from '../../src/model/tool-syntax.js';
import { forcedCallFormat } from '../../src/server/tools.js';
import { SHARED } from '../helpers/paths.js';

const LLAMA_CPP_TEMPLATES = '/work/main/.pensieve/llama.cpp/models/templates';

function templateOf(file: string): string {
  if (file.endsWith('.jinja')) return readFileSync(file, 'utf8');
  return chatTemplateFromConfig(JSON.parse(readFileSync(file, 'utf8')))!;
}

const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 }, units: { enum: ['C', 'F'] } },
  required: ['city', 'days', 'units'],
  additionalProperties: false,
};
const TIME = { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'], additionalProperties: false };
const TOOLS = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather forecast', parameters: WEATHER } },
  { type: 'function', function: { name: 'get_time', description: 'Local time', parameters: TIME } },
];
const CALLS = [
  { name: 'get_weather', arguments: { city: 'Zürich "old town"', days: 3, units: 'C' } },
  { name: 'get_time', arguments: { zone: 'Europe/Zurich' } },
];

interface Family {
  label: string;
  file: string;
  syntax: ToolSyntax['name'];
  /** The assistant's calls as the template renders them (what the model writes). */
  segment(rendered: string): string;
  /** Whether the template writes the calls exactly as the forced-call grammar does (Mistral adds ids). */
  grammarExact: boolean;
  parallel: boolean;
}

/** The text after `from` up to `to` (the assistant's turn: after its header, before its end). */
const between = (text: string, from: string, to: string) => {
  const start = text.indexOf(from);
  assert.ok(start >= 0, `no ${from} in ${text}`);
  return text.slice(start + from.length, text.indexOf(to, start));
};

const FAMILIES: Family[] = [
  {
    label: 'Qwen2.5 (Hermes)', file: join(SHARED, 'tokenizers/qwen2.5/tokenizer_config.json'), syntax: 'hermes', grammarExact: true, parallel: true,
    segment: (r) => between(r, '<|im_start|>assistant\n', '<|im_end|>'),
  },
  {
    label: 'Qwen3 (Hermes, thinks)', file: join(LLAMA_CPP_TEMPLATES, 'Qwen-Qwen3-0.6B.jinja'), syntax: 'hermes', grammarExact: true, parallel: true,
    segment: (r) => between(r, '<|im_start|>assistant\n', '<|im_end|>'),
  },
  {
    label: 'Llama 3.1 (JSON)', file: join(SHARED, 'tokenizers/chat_templates/meta-llama_Meta-Llama-3.1-8B-Instruct.tokenizer_config.json'), syntax: 'llama3', grammarExact: true, parallel: false,
    segment: (r) => between(r, '<|start_header_id|>assistant<|end_header_id|>\n\n', '<|eot_id|>'),
  },
  {
    label: 'Mistral Nemo ([TOOL_CALLS])', file: join(LLAMA_CPP_TEMPLATES, 'mistralai-Mistral-Nemo-Instruct-2407.jinja'), syntax: 'mistral', grammarExact: false, parallel: true,
    segment: (r) => `[TOOL_CALLS]${between(r, '[TOOL_CALLS]', '</s>')}`,
  },
];

/** Pushes `text` cut at `cuts` and gathers the events; the calls rebuilt from the events. */
function streamed(syntax: ToolSyntax, text: string, pieces: string[]): { events: OutputEvent[]; calls: Array<{ name: string; arguments: string }>; content: string } {
  const parser = new OutputParser({ reasoning: 'none', tools: syntax });
  const events = [...pieces.flatMap((p) => parser.push(p)), ...parser.end()];
  const calls: Array<{ name: string; arguments: string }> = [];
  let content = '';
  for (const ev of events) {
    if (ev.type === 'call') calls[ev.index] = { name: ev.name, arguments: '' };
    if (ev.type === 'arguments') calls[ev.index]!.arguments += ev.text;
    if (ev.type === 'content') content += ev.text;
  }
  assert.deepEqual(parser.result().calls, calls);
  return { events, calls, content };
}

function cuttings(text: string, seed: number): string[][] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const random: string[] = [];
  for (let i = 0; i < text.length;) {
    const n = 1 + Math.floor(rand() * 6);
    random.push(text.slice(i, i + n));
    i += n;
  }
  return [[text], [...text], random];
}

for (const f of FAMILIES) {
  describe(f.label, { skip: !existsSync(f.file) && `no ${f.file}` }, () => {
    const template = existsSync(f.file) ? templateOf(f.file) : '';
    const syntax = () => {
      const s = toolSyntaxOf(template);
      assert.ok(s !== null);
      return s;
    };
    const calls = f.parallel ? CALLS : CALLS.slice(0, 1);
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Weather and time in Zürich?' },
      { role: 'assistant', content: '', tool_calls: calls.map((c, i) => ({ id: `call${i}abcd`, type: 'function', function: c })) },
      ...calls.map((c, i) => ({ role: 'tool', content: '{"ok": true}', tool_call_id: `call${i}abcd`, name: c.name })),
    ];
    const rendered = () => renderChat(template, messages, { addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>', extra: { tools: TOOLS } });

    test('the template is recognised as this family', () => {
      assert.equal(syntax().name, f.syntax);
    });

    test('the rendered calls parse back to the same names and arguments, in any stream cutting', () => {
      const segment = f.segment(rendered());
      for (const pieces of cuttings(segment, 7)) {
        const out = streamed(syntax(), segment, pieces);
        assert.equal(out.content, '', JSON.stringify(pieces));
        assert.deepEqual(out.calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) })), calls);
        // The name arrives before any of its arguments.
        const first = out.events.findIndex((e) => e.type === 'arguments');
        assert.equal(out.events[first - 1]?.type, 'call');
      }
    });

    test('content before the calls stays content; text that only looks like a marker is content', () => {
      const segment = f.segment(rendered());
      if (syntax().marker !== null) {
        const out = streamed(syntax(), `Let me check.\n${segment}`, [...`Let me check.\n${segment}`]);
        assert.equal(out.content, 'Let me check.');
        assert.equal(out.calls.length, calls.length);
        const fake = `${syntax().marker} is how I would call it, but no.`;
        const none = streamed(syntax(), fake, [...fake]);
        assert.equal(none.calls.length, 0);
        assert.equal(none.content, fake);
      } else {
        const text = 'The weather is {"fine"}.';
        assert.equal(streamed(syntax(), text, [...text]).content, text);
      }
    });

    test('a forced call\'s grammar accepts the template\'s own rendering byte for byte', { skip: !f.grammarExact && 'this template adds the call id inside the call' }, () => {
      const format = forcedCallFormat(syntax(), TOOLS.map((t) => ({ name: t.function.name, parameters: t.function.parameters })), f.parallel);
      const g = compileFormat({ type: 'tool_calls', calls: format });
      const segment = f.segment(rendered());
      const stacks = advanceBytes(g, initialStacks(g), new TextEncoder().encode(segment));
      assert.ok(stacks !== null && isAccepting(stacks), segment);
      // Arguments that break the schema are refused.
      const wrong = segment.replace('"days": 3', '"days": 9');
      assert.equal(advanceBytes(g, initialStacks(g), new TextEncoder().encode(wrong)), null);
    });
  });
}

describe('reasoning', () => {
  const think = (text: string, reasoning: 'maybe' | 'open') => {
    const parser = new OutputParser({ reasoning, tools: null });
    const events = [...[...text].flatMap((c) => parser.push(c)), ...parser.end()];
    const join = (type: string) => events.filter((e) => e.type === type).map((e) => (e as { text: string }).text).join('');
    assert.equal(join('reasoning'), parser.result().reasoning ?? '');
    assert.equal(join('content'), parser.result().content);
    return parser.result();
  };

  test('Qwen3: <think> opens the output, the answer follows </think>, whitespace around the tags dropped', () => {
    assert.deepEqual(think('<think>\nThe user greets.\nBe kind.\n</think>\n\nHello!', 'maybe'), { reasoning: 'The user greets.\nBe kind.', content: 'Hello!', calls: [] });
    assert.deepEqual(think('Hello <think> there', 'maybe'), { reasoning: null, content: 'Hello <think> there', calls: [] });
    assert.deepEqual(think('<thin', 'maybe'), { reasoning: null, content: '<thin', calls: [] });
  });

  test('DeepSeek-R1: the prompt opened the block, so the output starts inside it; a cut reply is all reasoning', () => {
    assert.deepEqual(think('Think </thin k> more.\n</think>\n\nAnswer', 'open'), { reasoning: 'Think </thin k> more.', content: 'Answer', calls: [] });
    assert.deepEqual(think('Still thinking', 'open'), { reasoning: 'Still thinking', content: '', calls: [] });
  });

  test('reasoning then a Hermes call', () => {
    const text = '<think>\nI need the weather.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bern", "days": 1, "units": "C"}}\n</tool_call>';
    const hermes = toolSyntaxOf('<tool_call>')!;
    const parser = new OutputParser({ reasoning: 'maybe', tools: hermes });
    for (const c of text) parser.push(c);
    parser.end();
    assert.deepEqual(parser.result(), {
      reasoning: 'I need the weather.', content: '', calls: [{ name: 'get_weather', arguments: '{"city": "Bern", "days": 1, "units": "C"}' }],
    });
  });

  test('Mistral: a bare list opening the reply is calls (a real vocabulary\'s [TOOL_CALLS] is a special token the text leaves out)', () => {
    const mistral = toolSyntaxOf('[TOOL_CALLS]')!;
    const text = '[{"name": "get_time", "arguments": {"zone": "UTC"}}, {"name": "f", "arguments": {}}]';
    const parser = new OutputParser({ reasoning: 'none', tools: mistral });
    for (const c of text) parser.push(c);
    parser.end();
    assert.deepEqual(parser.result(), { reasoning: null, content: '', calls: [{ name: 'get_time', arguments: '{"zone": "UTC"}' }, { name: 'f', arguments: '{}' }] });
    const prose = '[1] is a footnote.';
    const other = new OutputParser({ reasoning: 'none', tools: mistral });
    for (const c of prose) other.push(c);
    other.end();
    assert.deepEqual(other.result(), { reasoning: null, content: prose, calls: [] });
  });

  test('a call cut by max_tokens stands as far as it got once its name is known', () => {
    const hermes = toolSyntaxOf('<tool_call>')!;
    const parser = new OutputParser({ reasoning: 'none', tools: hermes });
    parser.push('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Be');
    parser.end();
    assert.deepEqual(parser.result().calls, [{ name: 'get_weather', arguments: '{"city": "Be' }]);
    // Cut inside the closing tag: the call is whole, the tag's start is no content.
    const whole = new OutputParser({ reasoning: 'none', tools: hermes });
    whole.push('<tool_call>\n{"name": "f", "arguments": {}}\n</tool_ca');
    whole.end();
    assert.deepEqual(whole.result(), { reasoning: null, content: '', calls: [{ name: 'f', arguments: '{}' }] });
  });
});
