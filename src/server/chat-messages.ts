// Chat messages as /v1/chat/completions and /tokenize take them: the schema, the checks the
// schema cannot express, and the conversion to what the chat template renders. Assistant
// messages may carry tool_calls (and reasoning_content, vLLM's and DeepSeek's field); 'tool'
// messages answer a call by its tool_call_id.

import { z } from 'zod';
import { templateKwargsProblem, type ChatMessage } from '../model/chat-template.js';
import { badRequest } from './errors.js';
import { argumentsForTemplate } from './tools.js';
import { unsupported } from './validate.js';

const TextPart = z.strictObject({ type: z.literal('text'), text: z.string() });

const ToolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
});

const Message = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  // null or absent only for an assistant message that makes tool calls (checked below).
  content: z.union([z.string(), z.array(TextPart)]).nullish(),
  // Chat templates have no place for a participant's name: refused below rather than dropped.
  name: z.string().nullish(),
  tool_calls: z.array(ToolCall).nullish(),
  tool_call_id: z.string().min(1).nullish(),
  reasoning_content: z.string().nullish(),
  refusal: z.string().nullish(),
});
type Message = z.output<typeof Message>;

export const chatMessagesField = z.array(Message).min(1);

/**
 * vLLM's and llama.cpp's extension: variables for the model's chat template, such as Qwen3's
 * enable_thinking. JSON scalars only; names renderChat sets itself are refused.
 */
export const chatTemplateKwargsField = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).superRefine((kwargs, ctx) => {
  for (const name of Object.keys(kwargs)) {
    const problem = templateKwargsProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [name] });
  }
}).nullish();

/** Refuses what a message may carry but a chat template cannot render, and what does not belong to its role. */
export function checkMessages(messages: readonly Message[]): void {
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (m.name !== undefined && m.name !== null) unsupported(`${at}.name`, 'a message name');
    const calls = m.tool_calls ?? [];
    if (calls.length > 0 && m.role !== 'assistant') throw badRequest(`${at}.tool_calls: only assistant messages make tool calls`, `${at}.tool_calls`, 'invalid_value');
    if (m.reasoning_content != null && m.role !== 'assistant') throw badRequest(`${at}.reasoning_content: only assistant messages carry reasoning`, `${at}.reasoning_content`, 'invalid_value');
    if (m.role === 'tool' && m.tool_call_id == null) throw badRequest(`${at}.tool_call_id: a tool message must name the call it answers`, `${at}.tool_call_id`, 'missing_required_parameter');
    if (m.role !== 'tool' && m.tool_call_id != null) throw badRequest(`${at}.tool_call_id: only tool messages answer a call`, `${at}.tool_call_id`, 'invalid_value');
    if (m.content == null && !(m.role === 'assistant' && calls.length > 0)) {
      throw badRequest(`${at}.content: a ${m.role} message needs content`, `${at}.content`, 'missing_required_parameter');
    }
  });
  // A tool message answers a call an earlier assistant message made.
  const made = new Set<string>();
  messages.forEach((m, i) => {
    for (const c of m.tool_calls ?? []) made.add(c.id);
    if (m.role === 'tool' && !made.has(m.tool_call_id!)) {
      throw badRequest(`messages[${i}].tool_call_id: no earlier assistant message made a call with id '${m.tool_call_id}'`, `messages[${i}].tool_call_id`, 'invalid_value');
    }
  });
}

export function toChatMessages(messages: readonly Message[]): ChatMessage[] {
  return messages.map((m) => {
    const content = m.content == null ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
    // Chat templates know 'system'; 'developer' is OpenAI's newer name for the same thing.
    const out: ChatMessage = { role: m.role === 'developer' ? 'system' : m.role, content };
    if (m.tool_calls && m.tool_calls.length > 0) {
      out.tool_calls = m.tool_calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: argumentsForTemplate(c.function.arguments) } }));
    }
    if (m.tool_call_id != null) out.tool_call_id = m.tool_call_id;
    if (m.reasoning_content != null) out.reasoning_content = m.reasoning_content;
    return out;
  });
}
