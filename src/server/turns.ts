// A stateful turn of the Responses API, from what it continues to what it commits. A turn
// continues either a chain of responses (previous_response_id) or a conversation; both give the
// engine the whole conversation as messages plus its canonical history (tokens and text), and a
// cache key that stays the same for every turn of that conversation, so the engine appends only
// the new tokens to the KV it kept. Turns of one conversation run one at a time; a turn's
// response, items and new history are written in one transaction after it finished, so a failed
// or abandoned turn leaves nothing behind.

import type { FastifyReply } from 'fastify';
import type { ConversationHistory } from '../engine/chat-prompt.js';
import type { ResponseFormat } from '../engine/grammar/format.js';
import type { SamplingParams } from '../engine/sampler.js';
import type { ChatMessage } from '../model/chat-template.js';
import type { ConversationItem, Owner, ResponseObject, StoredResponse, TokenHistory } from '../store/index.js';
import type { ServerContext } from './context.js';
import { badRequest, conversationNotFound, notFound } from './errors.js';
import { Generation, type GenerationResult } from './generation.js';
import { checkUniqueIds, toChatMessages } from './items.js';
import { finishedResponse, type ResponseParams } from './response-object.js';
import { ResponseOutput, type OutputObserver } from './response-output.js';
import { replyParser, replySplit } from './chat-reply.js';
import type { ToolPlan } from './tools.js';

export interface TurnRequest {
  /** The caller's tenant: what the turn continues must be theirs, and what it commits is. */
  owner: Owner;
  params: ResponseParams;
  /** This turn's input items, ids assigned. */
  input: ConversationItem[];
  /** The id of the assistant message this turn will produce (streams announce it first). */
  outputId: string;
  sampling: SamplingParams;
  maxTokens: number;
  stop: string[];
  /** Generate past the model's end-of-sequence tokens (vLLM's ignore_eos; benchmarks). */
  ignoreEos: boolean;
  /** Constrain the output to JSON (text.format), or to a forced tool call. */
  responseFormat?: ResponseFormat;
  /** The turn's function tools. */
  tools: ToolPlan;
}

export interface TurnObserver {
  /** The engine accepted the prompt: a stream may open now (a refusal was a plain 400). */
  accepted?(): void;
  /** Sees each output item open, grow and close. */
  output?: OutputObserver;
}

export interface TurnOutcome {
  result: GenerationResult;
  /** The finished response object (also what was stored, when it was); null when aborted. */
  response: ResponseObject | null;
}

interface Continuation {
  /** The engine's KV key; also what serializes the turns. */
  key: string | null;
  /** The stored responses this turn continues, oldest first (previous_response_id). */
  chain: StoredResponse[];
}

/** Checks that what the turn continues exists and picks its key. Runs before waiting for the lock. */
async function continuation(ctx: ServerContext, owner: Owner, p: ResponseParams): Promise<Continuation> {
  if (p.conversationId !== null) {
    if ((await ctx.store.getConversation(owner, p.conversationId)) === undefined) {
      throw conversationNotFound(p.conversationId, 'conversation');
    }
    return { key: p.conversationId, chain: [] };
  }
  if (p.previousResponseId !== null) {
    const chain = await ctx.store.responseChain(owner, p.previousResponseId);
    if (chain === undefined) {
      throw notFound(`Previous response with id '${p.previousResponseId}' not found.`, 'previous_response_id', 'previous_response_not_found');
    }
    // The chain's root names its conversation; a deleted ancestor ends the chain early, and the
    // id it names stays the key for every later turn.
    const root = chain[0]!;
    return { key: p.store ? (root.previousResponseId ?? root.id) : null, chain };
  }
  // A new chain: this response is its root. Nobody can continue it before it is stored.
  return { key: p.store ? p.id : null, chain: [] };
}

/** Stored history usable by this model, as the engine takes it; none for another model's tokens. */
function usableHistory(history: TokenHistory | undefined, model: string): ConversationHistory | undefined {
  if (history === undefined || history.tokens.length === 0 || history.model !== model) return undefined;
  return { tokens: Array.from(history.tokens), text: history.text };
}

/** The whole conversation as messages, and its history. Runs inside the lock. */
async function prompt(ctx: ServerContext, turn: TurnRequest, cont: Continuation): Promise<{ messages: ChatMessage[]; history?: ConversationHistory }> {
  const p = turn.params;
  const system: ChatMessage[] = p.instructions === null ? [] : [{ role: 'system', content: p.instructions }];
  if (p.conversationId !== null) {
    const items = await ctx.store.allItems(turn.owner, p.conversationId);
    if (items === undefined) throw conversationNotFound(p.conversationId, 'conversation');
    const ids = new Set(items.map((i) => i.id));
    turn.input.forEach((item, i) => {
      if (ids.has(item.id)) throw badRequest(`input[${i}].id: item '${item.id}' is already in the conversation`, `input[${i}].id`, 'duplicate_id');
    });
    checkCallOutputs(items, turn.input);
    const history = usableHistory(await ctx.store.getTokenHistory(turn.owner, p.conversationId), p.model);
    return { messages: [...system, ...toChatMessages(items), ...toChatMessages(turn.input)], history };
  }
  const past = cont.chain.flatMap((r) => [...r.input, ...r.output]);
  checkCallOutputs(past, turn.input);
  const history = p.previousResponseId === null ? undefined : usableHistory(await ctx.store.getResponseTokens(turn.owner, p.previousResponseId), p.model);
  return { messages: [...system, ...toChatMessages(past), ...toChatMessages(turn.input)], history };
}

/** A function call's output answers a call made earlier in the conversation (or in this input). */
function checkCallOutputs(past: readonly ConversationItem[], input: readonly ConversationItem[]): void {
  const calls = new Set(past.flatMap((i) => (i.type === 'function_call' ? [i.call_id] : [])));
  input.forEach((item, i) => {
    if (item.type === 'function_call') calls.add(item.call_id);
    if (item.type === 'function_call_output' && !calls.has(item.call_id)) {
      throw badRequest(`input[${i}].call_id: no function call with call_id '${item.call_id}' was made in this conversation`, `input[${i}].call_id`, 'invalid_value');
    }
  });
}

/** Writes the finished turn; throws 404 (having written nothing) when its conversation was deleted meanwhile. */
async function commit(ctx: ServerContext, turn: TurnRequest, response: ResponseObject, result: GenerationResult): Promise<void> {
  const p = turn.params;
  if (!p.store && p.conversationId === null) return;
  const history = result.history;
  const written = await ctx.store.commitTurn(turn.owner, {
    ...(p.conversationId === null ? {} : { conversationId: p.conversationId }),
    ...(p.store ? { response: { object: response, input: turn.input } } : {}),
    newItems: p.conversationId === null ? [] : [...turn.input, ...response.output],
    tokenHistory: history?.tokens ?? [],
    historyText: history?.text ?? '',
    model: p.model,
  });
  if (written === undefined) {
    throw notFound(`Conversation with id '${p.conversationId}' was deleted during the turn.`, 'conversation', 'conversation_not_found');
  }
}

/** Runs one turn: waits for the conversation's previous turn, generates, commits. */
export async function runTurn(ctx: ServerContext, turn: TurnRequest, reply: FastifyReply, observer: TurnObserver = {}): Promise<TurnOutcome> {
  checkUniqueIds(turn.input, 'input');
  const cont = await continuation(ctx, turn.owner, turn.params);
  return ctx.locks.run(cont.key, async () => {
    const { messages, history } = await prompt(ctx, turn, cont);
    const generation = await Generation.start(
      ctx,
      {
        prompt: {
          kind: 'chat', messages,
          ...(history === undefined ? {} : { history }),
          ...(turn.tools.templateTools.length > 0 ? { tools: turn.tools.templateTools } : {}),
        },
        conversationId: cont.key,
        sampling: turn.sampling,
        maxTokens: turn.maxTokens,
        stop: turn.stop,
        ignoreEos: turn.ignoreEos,
        ...(turn.responseFormat === undefined ? {} : { responseFormat: turn.responseFormat }),
        promptParam: 'input',
      },
      reply,
    );
    observer.accepted?.();
    const split = replySplit(ctx.engine.model, turn.tools);
    const output = new ResponseOutput(turn.outputId, split === null ? null : replyParser(split, generation.prompt.text), turn.tools.parse, observer.output ?? null);
    const result = await generation.run((text) => output.push(text));
    if (result.finishReason === 'abort') return { result, response: null };
    const response = finishedResponse(turn.params, result, output.end(result.finishReason === 'length'));
    await commit(ctx, turn, response, result);
    return { result, response };
  });
}
