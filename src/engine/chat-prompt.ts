// Turns a conversation into prompt tokens. A conversation's canonical token
// history is the prompt tokens as templated plus the generated tokens exactly
// as sampled; a new turn appends only the template text that follows the last
// assistant message, so the history's cached KV stays a prefix of the new
// prompt. Re-tokenizing the whole text instead could split the model's own
// words differently and throw the cache away. When the template rewrites
// earlier turns, the whole conversation is re-tokenized and the KV cache reuses
// the longest common prefix.
import { FALLBACK_CHAT_TEMPLATE, renderChat, type ChatMessage } from '../model/chat-template.js';
import type { Tokenizer } from '../model/tokenizer/types.js';

export interface ConversationHistory {
  /** Canonical tokens of messages[0, messageCount): ends with the last assistant message's sampled tokens. */
  tokens: readonly number[];
  messageCount: number;
}

export interface ChatPromptModel {
  tokenizer: Tokenizer;
  /** null: the documented fallback template. */
  chatTemplate: string | null;
}

export function renderConversation(model: ChatPromptModel, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  const tok = model.tokenizer;
  const piece = (id: number | null) => (id === null ? '' : tok.decode([id], { skipSpecial: false }));
  return renderChat(model.chatTemplate ?? FALLBACK_CHAT_TEMPLATE, messages, {
    addGenerationPrompt,
    bosToken: piece(tok.bosId),
    eosToken: piece(tok.eosIds[0] ?? null),
  });
}

/** Prompt tokens for generating the next assistant message of `messages`. */
export function chatPromptTokens(model: ChatPromptModel, messages: readonly ChatMessage[], history?: ConversationHistory): number[] {
  const full = renderConversation(model, messages, true);
  if (history && history.messageCount > 0 && history.messageCount < messages.length) {
    const last = messages[history.messageCount - 1]!;
    if (last.role === 'assistant') {
      const before = renderConversation(model, messages.slice(0, history.messageCount), false);
      const at = before.lastIndexOf(last.content);
      const head = at >= 0 ? before.slice(0, at + last.content.length) : null;
      if (head !== null && full.startsWith(head)) {
        return [...history.tokens, ...model.tokenizer.encode(full.slice(head.length), { addBos: false })];
      }
    }
  }
  return encodeTemplated(model.tokenizer, full);
}

/** Templates usually write BOS into the text themselves; add it only when they do not. */
export function encodeTemplated(tok: Tokenizer, text: string): number[] {
  const bos = tok.bosId === null ? '' : tok.decode([tok.bosId], { skipSpecial: false });
  const addBos = tok.addBos && !(bos !== '' && text.startsWith(bos));
  return tok.encode(text, { addBos });
}
