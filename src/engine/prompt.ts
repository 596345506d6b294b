// From the prompt a route received (chat messages, text, token ids) to the prompt tokens, in
// whichever thread does it: the engine worker for small prompts, the prompt worker for large
// ones (so tokenizing megabytes never stalls the engine loop). Before any text is tokenized, a
// lower bound on its token count (its UTF-8 length over the most bytes one token can stand for)
// refuses what cannot fit the context: a 20 MB paste is refused in milliseconds, not after a
// minute and gigabytes of merge bookkeeping.

import type { Tokenizer } from '../model/tokenizer/types.js';
import { minTokenCount } from '../model/tokenizer/token-bound.js';
import { chatPrompt, encodeTemplated, type ChatPrompt, type ChatPromptModel } from './chat-prompt.js';
import type { PromptInput } from './protocol.js';
import { EngineRequestError } from './request-error.js';

export interface PromptModel extends ChatPromptModel {
  tokenizer: Tokenizer;
  /** The model's embedding rows: token ids must be below this. */
  vocabSize: number;
  /** maxInputBytesPerToken(tokenizer); Infinity: no early bound. */
  maxBytesPerToken: number;
}

/** Prompts of at least this many UTF-8 bytes are tokenized off the engine loop (~25 ms of SentencePiece here). */
export const LARGE_PROMPT_BYTES = 16 << 10;

/** The UTF-8 bytes of text a prompt carries: what decides where it is tokenized. */
export function promptBytes(prompt: PromptInput): number {
  switch (prompt.kind) {
    case 'chat':
      return prompt.messages.reduce((n, m) => n + Buffer.byteLength(m.content), 0);
    case 'text':
      return Buffer.byteLength(prompt.text);
    default:
      return 0;
  }
}

/** What a prompt that cannot fit is told (here, and by the server when it measures a body before parsing it). */
export function contextExceededMessage(atLeast: number, contextLength: number, exact: boolean): string {
  return `the prompt has ${exact ? '' : 'at least '}${atLeast} tokens; this server's context window is ${contextLength} tokens (prompt and reply together)`;
}

function tooLong(atLeast: number, contextLength: number, param: string, exact: boolean): EngineRequestError {
  return new EngineRequestError(contextExceededMessage(atLeast, contextLength, exact), param, 'context_length_exceeded');
}

/**
 * The prompt's tokens and text. Throws EngineRequestError for a prompt that cannot fit
 * `contextLength` (prompt tokens must leave room for one generated token) — before tokenizing
 * when the bound already shows it — and for token ids outside the vocabulary.
 */
export function buildPrompt(model: PromptModel, prompt: PromptInput, contextLength: number): ChatPrompt {
  const guard = (atLeast: number, param: string) => {
    if (atLeast >= contextLength) throw tooLong(atLeast, contextLength, param, false);
  };
  let result: ChatPrompt;
  switch (prompt.kind) {
    case 'chat':
      result = chatPrompt(model, prompt.messages, prompt.history, { maxBytesPerToken: model.maxBytesPerToken, check: (n) => guard(n, 'messages') },
        prompt.templateKwargs, prompt.tools);
      break;
    case 'text':
      guard(minTokenCount(Buffer.byteLength(prompt.text), model.maxBytesPerToken), 'prompt');
      result = { text: prompt.text, tokens: encodeTemplated(model.tokenizer, prompt.text) };
      break;
    case 'tokens':
      checkIds(prompt.tokens, model.vocabSize);
      guard(prompt.tokens.length, 'prompt');
      result = { text: model.tokenizer.decode(prompt.tokens, { skipSpecial: false }), tokens: prompt.tokens };
      break;
    case 'tokenized':
      // Built by the prompt worker from one of the kinds above; the ids are checked once more here.
      checkIds(prompt.tokens, model.vocabSize);
      return { text: prompt.text, tokens: prompt.tokens };
  }
  if (result.tokens.length >= contextLength) throw tooLong(result.tokens.length, contextLength, prompt.kind === 'chat' ? 'messages' : 'prompt', true);
  return result;
}

export function checkIds(tokens: readonly number[], vocabSize: number, param = 'prompt'): void {
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize);
  if (bad !== undefined) throw new EngineRequestError(`token id ${bad} is outside the vocabulary [0, ${vocabSize})`, param);
}
