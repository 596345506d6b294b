// Conversation items as clients send them (Responses API input, Conversations API items) and as
// the chat template sees them. Only message items are taken: function calls need tool support,
// which this server does not have, and an item it cannot render must not enter a conversation.

import { z } from 'zod';
import type { ChatMessage } from '../model/chat-template.js';
import { newId, type ContentPart, type ConversationItem, type MessageItem, type Role } from '../store/index.js';
import { badRequest } from './errors.js';

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

/** The Responses API's `input`: a string (one user message) or a list of message items. */
export const ResponseInput = z.union([z.string(), z.array(MessageInput)]);

/** Turns client items into stored items, giving each an id and status now (the response and the conversation share them). */
export function toMessageItems(input: z.output<typeof ResponseInput>): MessageItem[] {
  if (typeof input === 'string') return [messageItem('user', [{ type: 'input_text', text: input }])];
  return input.map((m) => {
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

/** The messages a chat template renders; 'developer' becomes 'system', the role templates know. */
export function toChatMessages(items: readonly ConversationItem[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const item of items) {
    if (item.type !== 'message') continue;
    messages.push({ role: item.role === 'developer' ? 'system' : item.role, content: item.content.map(textOf).join('') });
  }
  return messages;
}
