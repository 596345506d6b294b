// Chat messages as /v1/chat/completions and /tokenize take them: the schema, the checks the
// schema cannot express, and the conversion to what the chat template renders.

import { z } from 'zod';
import { templateKwargsProblem, type ChatMessage } from '../model/chat-template.js';
import { unsupported } from './validate.js';

const TextPart = z.strictObject({ type: z.literal('text'), text: z.string() });

const Message = z.strictObject({
  // 'tool' messages need tool calls, which this server does not make.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(TextPart)]),
  // Chat templates have no place for a participant's name: refused below rather than dropped.
  name: z.string().nullish(),
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

/** Refuses what a message may carry but a chat template cannot render. */
export function checkMessages(messages: readonly Message[]): void {
  messages.forEach((m, i) => {
    if (m.name !== undefined && m.name !== null) unsupported(`messages[${i}].name`, 'a message name');
  });
}

export function toChatMessages(messages: readonly Message[]): ChatMessage[] {
  return messages.map((m) => ({
    // Chat templates know 'system'; 'developer' is OpenAI's newer name for the same thing.
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
}
