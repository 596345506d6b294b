// Conversation items as clients send them (Responses API input, Conversations API items) and as
// the chat template sees them: messages, function calls and their outputs, reasoning. A run of
// reasoning, assistant text and function calls from one turn is one assistant message to the
// template (its reasoning_content, content and tool_calls), as the chat form carries it.

import { z } from 'zod';
import type { ChatMessage } from '../model/chat-template.js';
import { newId, type ContentPart, type ConversationItem, type MessageItem, type Role } from '../store/index.js';
import { badRequest } from './errors.js';
import { argumentsForTemplate } from './tools.js';

const InputText = z.strictObject({ type: z.literal('input_text'), text: z.string() });
const OutputText = z.strictObject({ type: z.literal('output_text'), text: z.string(), annotations: z.array(z.unknown()).nullish() });
const Refusal = z.strictObject({ type: z.literal('refusal'), refusal: z.string() });

export const MessageInput = z.strictObject({
  type: z.literal('message').optional(),
  id: z.string().min(1).nullish(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [InputText, OutputText, Refusal]))]),
  status: z.enum(['in_progress', 'completed', 'incomplete']).nullish(),
});
export type MessageInput = z.output<typeof MessageInput>;

const status = z.enum(['in_progress', 'completed', 'incomplete']).nullish();

const FunctionCallInput = z.strictObject({
  type: z.literal('function_call'),
  id: z.string().min(1).nullish(),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  status,
});

const FunctionCallOutputInput = z.strictObject({
  type: z.literal('function_call_output'),
  id: z.string().min(1).nullish(),
  call_id: z.string().min(1),
  output: z.string(),
  status,
});

const ReasoningInput = z.strictObject({
  type: z.literal('reasoning'),
  id: z.string().min(1).nullish(),
  summary: z.array(z.strictObject({ type: z.literal('summary_text'), text: z.string() })),
  content: z.array(z.strictObject({ type: z.literal('reasoning_text'), text: z.string() })).nullish(),
  // Only this server's own reasoning is read back, from content; an opaque blob is refused rather than dropped.
  encrypted_content: z.null().optional(),
  status,
});

export const InputItem = z.union([MessageInput, FunctionCallInput, FunctionCallOutputInput, ReasoningInput]);
export type InputItem = z.output<typeof InputItem>;

/** The Responses API's `input`: a string (one user message) or a list of items. */
export const ResponseInput = z.union([z.string(), z.array(InputItem)]);

/** Turns client items into stored items, giving each an id and status now (the response and the conversation share them). */
export function toInputItems(input: string | readonly InputItem[]): ConversationItem[] {
  if (typeof input === 'string') return [messageItem('user', [{ type: 'input_text', text: input }])];
  return input.map((m): ConversationItem => {
    if (m.type === 'function_call') {
      return { type: 'function_call', id: m.id ?? newId('fc'), call_id: m.call_id, name: m.name, arguments: m.arguments, status: m.status ?? 'completed' };
    }
    if (m.type === 'function_call_output') {
      return { type: 'function_call_output', id: m.id ?? newId('fco'), call_id: m.call_id, output: m.output, status: m.status ?? 'completed' };
    }
    if (m.type === 'reasoning') {
      return { type: 'reasoning', id: m.id ?? newId('rs'), summary: m.summary, content: m.content ?? [], status: m.status ?? 'completed' };
    }
    const content: ContentPart[] =
      typeof m.content === 'string'
        ? [m.role === 'assistant' ? { type: 'output_text', text: m.content, annotations: [] } : { type: 'input_text', text: m.content }]
        : m.content.map((p) => (p.type === 'output_text' ? { type: 'output_text', text: p.text, annotations: (p.annotations ?? []) as [] } : p));
    return messageItem(m.role, content, m.id ?? undefined, m.status ?? 'completed');
  });
}

export function messageItem(role: Role, content: ContentPart[], id?: string, status: MessageItem['status'] = 'completed'): MessageItem {
  return { type: 'message', id: id ?? newId('msg'), role, content, status };
}

/** Two items of one request with the same id would collide in the conversation. */
export function checkUniqueIds(items: readonly ConversationItem[], param: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.id)) throw badRequest(`${param}[${i}].id: duplicate item id '${item.id}'`, `${param}[${i}].id`, 'duplicate_id');
    seen.add(item.id);
  });
}

function textOf(part: ContentPart): string {
  return part.type === 'refusal' ? part.refusal : part.text;
}

/**
 * The messages a chat template renders; 'developer' becomes 'system', the role templates know.
 * Reasoning, an assistant message and function calls in a row make one assistant message;
 * a function call's output is a 'tool' message.
 */
export function toChatMessages(items: readonly ConversationItem[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  let assistant: ChatMessage | null = null;
  const flush = () => {
    if (assistant !== null) messages.push(assistant);
    assistant = null;
  };
  for (const item of items) {
    switch (item.type) {
      case 'reasoning':
        flush();
        assistant = { role: 'assistant', content: '', reasoning_content: item.content.map((c) => c.text).join('') };
        break;
      case 'message': {
        const content = item.content.map(textOf).join('');
        if (item.role === 'assistant') {
          const open: ChatMessage | null = assistant;
          if (open !== null && open.content === '' && open.tool_calls === undefined) open.content = content;
          else {
            flush();
            assistant = { role: 'assistant', content };
          }
        } else {
          flush();
          messages.push({ role: item.role === 'developer' ? 'system' : item.role, content });
        }
        break;
      }
      case 'function_call': {
        const open: ChatMessage = assistant ?? { role: 'assistant', content: '' };
        assistant = open;
        (open.tool_calls ??= []).push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: argumentsForTemplate(item.arguments) } });
        break;
      }
      case 'function_call_output':
        flush();
        messages.push({ role: 'tool', content: item.output, tool_call_id: item.call_id });
        break;
    }
  }
  flush();
  return messages;
}
