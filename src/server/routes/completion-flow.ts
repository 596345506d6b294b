// What chat and text completions share: the object's id/created/model header, the finish
// reason, and the whole stateless flow — submit, then either one JSON object or a stream of
// SSE chunks ending in an optional usage chunk and [DONE]. The two routes differ only in the
// shape of a choice, given here as a CompletionShape.

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { admitted, type ServerContext } from '../context.js';
import { clientGone, streamError } from '../errors.js';
import type { TokenLogprob } from '../../engine/logprobs.js';
import { Generation, type GenerationRequest, type GenerationResult } from '../generation.js';
import { SseStream } from '../sse.js';
import { completionUsage, type CompletionUsage } from '../usage.js';
import { CallIds, chatDelta, chatMessage, replyParser, type ReplySplit } from '../chat-reply.js';

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export function completionMeta(idPrefix: 'chatcmpl' | 'cmpl', model: string): CompletionMeta {
  return { id: `${idPrefix}-${randomBytes(12).toString('hex')}`, created: Math.floor(Date.now() / 1000), model };
}

type Finish = 'stop' | 'length' | 'tool_calls';

/** An aborted request has no client left to tell; a reply that ends in tool calls says so. */
export function finishReason(result: GenerationResult, calls = 0): Finish {
  if (result.finishReason === 'length') return 'length';
  return calls > 0 ? 'tool_calls' : 'stop';
}

/** OpenAI's n: choices per request (its own limit is 128). */
export const nField = z.number().int().min(1).max(128).nullish();

/** A chat choice's logprobs entry for one token. */
export function chatLogprob(t: TokenLogprob) {
  return {
    token: t.token, logprob: t.logprob, bytes: t.bytes,
    top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })),
  };
}

/** The legacy completions shape: parallel arrays, alternatives as {token: logprob} maps. */
export function completionLogprobs(tokens: readonly TokenLogprob[], textOffset: number) {
  const offsets: number[] = [];
  let at = textOffset;
  for (const t of tokens) {
    offsets.push(at);
    at += t.token.length;
  }
  return {
    tokens: tokens.map((t) => t.token),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))),
    text_offset: offsets,
  };
}

export interface CompletionShape {
  idPrefix: 'chatcmpl' | 'cmpl';
  object: 'chat.completion' | 'text_completion';
  chunkObject: 'chat.completion.chunk' | 'text_completion';
  /** The whole reply as a choice's fields (without index, logprobs, finish_reason). */
  choice(text: string): Record<string, unknown>;
  /** A streamed piece of text as a chunk choice's fields. */
  piece(text: string): Record<string, unknown>;
  /** The fields of the final chunk's choice (next to finish_reason). */
  last: Record<string, unknown>;
  /** A chunk sent before any text (chat's role delta), if any. */
  first?: Record<string, unknown>;
  /** A choice's `logprobs` for these tokens, the first of them at `textOffset` in the reply. */
  logprobs(tokens: readonly TokenLogprob[], textOffset: number): unknown;
}

export interface CompletionRequest {
  generation: Omit<GenerationRequest, 'conversationId'>;
  stream: boolean;
  includeUsage: boolean;
  /** Choices to generate for the one prompt (OpenAI's n). */
  n: number;
  /** The model name the request gave (one of the served names), echoed in the reply. */
  model: string;
  /** Chat with reasoning or tools: the reply is split into reasoning, content and calls. */
  split?: ReplySplit | null;
}

/** Starts choice i of the request: with a seed, sample i takes seed + i, so choices differ and repeat. */
function choiceStarter(ctx: ServerContext, reply: FastifyReply, c: CompletionRequest): (i: number) => Promise<Generation> {
  const { sampling } = c.generation;
  return (i) => Generation.start(ctx, {
    ...c.generation,
    sampling: sampling.seed === undefined ? sampling : { ...sampling, seed: sampling.seed + i },
    conversationId: null,
  }, reply);
}

/**
 * Starts choices 1..n-1 once the first has its first token: its prompt's full KV blocks are in
 * the prefix cache by then, so they reuse them and compute only the last partial block, instead
 * of all n computing the whole prompt side by side. The first's run() must already be reading
 * its events (that is what resolves firstToken).
 */
async function startRest(first: Generation, n: number, start: (i: number) => Promise<Generation>): Promise<Generation[]> {
  await first.firstToken;
  const rest: Generation[] = [];
  try {
    for (let i = 1; i < n; i++) rest.push(await start(i));
  } catch (err) {
    for (const g of [first, ...rest]) g.abort();
    throw err;
  }
  return rest;
}

/** Usage of n choices of one prompt: the prompt once (the first choice's figures), every choice's completion tokens. */
function choicesUsage(results: readonly GenerationResult[]): CompletionUsage {
  const usage = completionUsage(results[0]!.usage);
  usage.completion_tokens = results.reduce((n, r) => n + r.usage.completionTokens, 0);
  usage.completion_tokens_details.reasoning_tokens = results.reduce((n, r) => n + r.reasoningTokens, 0);
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  return usage;
}

/** Runs a stateless completion and answers with the object, or streams it. */
export function runCompletion(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, shape: CompletionShape, c: CompletionRequest) {
  return admitted(ctx, async () => {
    const meta = completionMeta(shape.idPrefix, c.model);
    if (c.stream) {
      // The first choice is started (and refused with a 400) before any byte of the stream.
      const start = choiceStarter(ctx, reply, c);
      return stream(ctx, reply, await start(0), start, c, meta, shape);
    }
    const start = choiceStarter(ctx, reply, c);
    const first = await start(0);
    const runs = [first.run()];
    runs[0]!.catch(() => {}); // awaited below, after the other choices have started
    if (c.n > 1) (await startRest(first, c.n, start)).forEach((g) => runs.push(g.run()));
    const results = await Promise.all(runs);
    request.pensieveUsage = results[0]!.usage;
    if (results.some((r) => r.finishReason === 'abort')) throw clientGone();
    return {
      ...meta,
      object: shape.object,
      choices: results.map((r, index) => {
        const logprobs = r.logprobs === null ? null : shape.logprobs(r.logprobs, 0);
        if (!c.split) return { index, ...shape.choice(r.text), logprobs, finish_reason: finishReason(r) };
        const parser = replyParser(c.split, r.prompt.text);
        parser.push(r.text);
        parser.end();
        const parsed = parser.result();
        const ids = new CallIds(c.split).upTo(parsed.calls.length);
        return { index, message: chatMessage(parsed, ids), logprobs, finish_reason: finishReason(r, parsed.calls.length) };
      }),
      usage: choicesUsage(results),
    };
  });
}

async function stream(
  ctx: ServerContext, reply: FastifyReply, first: Generation, start: (i: number) => Promise<Generation>, c: CompletionRequest,
  meta: CompletionMeta, shape: CompletionShape,
): Promise<void> {
  const sse = SseStream.open(reply);
  // With include_usage every chunk carries usage: null, and one last chunk (no choices) the totals.
  const usageField = c.includeUsage ? { usage: null } : {};
  const chunk = (index: number, fields: Record<string, unknown>, logprobs: unknown, finish: Finish | null) => ({
    ...meta,
    object: shape.chunkObject,
    choices: [{ index, ...fields, logprobs, finish_reason: finish }],
    ...usageField,
  });
  const runChoice = async (g: Generation, index: number): Promise<GenerationResult> => {
    if (shape.first) sse.send(chunk(index, shape.first, null, null));
    let offset = 0;
    if (c.split) return runSplitChoice(g, index, c.split);
    const result = await g.run((text, logprobs) => {
      sse.send(chunk(index, shape.piece(text), c.generation.logprobs == null ? null : shape.logprobs(logprobs, offset), null));
      offset += text.length;
    });
    if (result.finishReason !== 'abort') sse.send(chunk(index, shape.last, null, finishReason(result)));
    return result;
  };
  // Reasoning, content and calls as separate deltas; logprobs ride on the next chunk sent.
  const runSplitChoice = async (g: Generation, index: number, split: ReplySplit): Promise<GenerationResult> => {
    const parser = replyParser(split, g.prompt.text);
    const ids = new CallIds(split);
    let offset = 0;
    let pending: Parameters<typeof shape.logprobs>[0] = [];
    let pendingOffset = 0;
    const send = (events: ReturnType<typeof parser.push>) => {
      for (const ev of events) {
        const lp = c.generation.logprobs == null || pending.length === 0 ? null : shape.logprobs(pending, pendingOffset);
        if (lp !== null) pending = [];
        sse.send(chunk(index, { delta: chatDelta(ev, ids) }, lp, null));
      }
    };
    const result = await g.run((text, logprobs) => {
      if (pending.length === 0) pendingOffset = offset;
      pending = [...pending, ...logprobs];
      offset += text.length;
      send(parser.push(text));
    });
    if (result.finishReason === 'abort') return result;
    send(parser.end());
    const lp = c.generation.logprobs == null || pending.length === 0 ? null : shape.logprobs(pending, pendingOffset);
    sse.send(chunk(index, shape.last, lp, finishReason(result, parser.result().calls.length)));
    return result;
  };
  const generations = [first];
  try {
    const runs = [runChoice(first, 0)];
    runs[0]!.catch(() => {}); // awaited below, after the other choices have started
    if (c.n > 1) {
      const rest = await startRest(first, c.n, start);
      generations.push(...rest);
      rest.forEach((g, i) => runs.push(runChoice(g, i + 1)));
    }
    const results = await Promise.all(runs);
    reply.request.pensieveUsage = results[0]!.usage;
    if (results.some((r) => r.finishReason === 'abort')) return;
    if (c.includeUsage) sse.send({ ...meta, object: shape.chunkObject, choices: [], usage: choicesUsage(results) });
    sse.done();
  } catch (err) {
    for (const g of generations) g.abort();
    // Headers are gone: the error travels as a stream event, the way OpenAI reports one.
    sse.send(streamError(ctx, err).body);
    sse.done();
  } finally {
    sse.end();
  }
}
