// Turns a conversation into prompt tokens. A conversation's canonical token
// history is the prompt tokens as templated plus the generated tokens exactly
// as sampled; when the newly rendered conversation starts with the text that
// history stands for, a new turn appends only the tokens of the text after it,
// so the history's cached KV stays a prefix of the new prompt. Re-tokenizing
// the whole text instead could split the model's own words differently and
// throw the cache away. When the template rewrites earlier turns (or the
// instructions changed), the whole conversation is re-tokenized and the KV
// cache reuses the longest common prefix.
import { FALLBACK_CHAT_TEMPLATE, renderChat, type ChatMessage, type ChatTool, type TemplateKwarg } from '../model/chat-template.js';
import { minTokenCount } from '../model/tokenizer/token-bound.js';
import type { Tokenizer } from '../model/tokenizer/types.js';

export interface ConversationHistory {
  /** The conversation's canonical tokens: the last turn's prompt tokens plus its sampled tokens. */
  tokens: readonly number[];
  /** The text those tokens stand for: the last turn's rendered prompt plus its generated text. */
  text: string;
}

export interface ChatPromptModel {
  tokenizer: Tokenizer;
  /** null: the documented fallback template. */
  chatTemplate: string | null;
}

export function renderConversation(
  model: ChatPromptModel, messages: readonly ChatMessage[], addGenerationPrompt: boolean, templateKwargs?: Readonly<Record<string, TemplateKwarg>>,
  tools?: readonly ChatTool[],
): string {
  const tok = model.tokenizer;
  const piece = (id: number | null) => (id === null ? '' : tok.decode([id], { skipSpecial: false }));
  return renderChat(model.chatTemplate ?? FALLBACK_CHAT_TEMPLATE, messages, {
    addGenerationPrompt,
    bosToken: piece(tok.bosId),
    eosToken: piece(tok.eosIds[0] ?? null),
    ...(templateKwargs ? { templateKwargs } : {}),
    // Templates test `if tools`: only a request with tools gets the variable.
    ...(tools && tools.length > 0 ? { extra: { tools: tools.map((t) => structuredClone(t)) } } : {}),
  });
}

export interface ChatPrompt {
  text: string;
  tokens: number[];
}

/**
 * Called before any text is tokenized with a lower bound on the prompt's token count (history
 * tokens plus the bound for the text to tokenize); throws to refuse the prompt.
 */
export interface PromptBound {
  maxBytesPerToken: number;
  check(atLeastTokens: number): void;
}

/** Prompt text and tokens for generating the next assistant message of `messages`. */
export function chatPrompt(
  model: ChatPromptModel, messages: readonly ChatMessage[], history?: ConversationHistory, bound?: PromptBound,
  templateKwargs?: Readonly<Record<string, TemplateKwarg>>, tools?: readonly ChatTool[],
): ChatPrompt {
  const text = renderConversation(model, messages, true, templateKwargs, tools);
  const atLeast = (prefix: number, rest: string) => bound?.check(prefix + minTokenCount(Buffer.byteLength(rest), bound.maxBytesPerToken));
  if (history && history.text.length > 0 && history.text.length < text.length && text.startsWith(history.text)) {
    const rest = text.slice(history.text.length);
    atLeast(history.tokens.length, rest);
    const suffix = model.tokenizer.encode(rest, { addBos: false });
    return { text, tokens: [...history.tokens, ...suffix] };
  }
  atLeast(0, text);
  return { text, tokens: encodeTemplated(model.tokenizer, text) };
}

/** Templates usually write BOS into the text themselves; add it only when they do not. */
export function encodeTemplated(tok: Tokenizer, text: string): number[] {
  const bos = tok.bosId === null ? '' : tok.decode([tok.bosId], { skipSpecial: false });
  const addBos = tok.addBos && !(bos !== '' && text.startsWith(bos));
  return tok.encode(text, { addBos });
}
