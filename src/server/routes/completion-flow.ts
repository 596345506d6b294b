// What chat and text completions share: the object's id/created/model header, the finish
// reason, and the whole stateless flow — submit, then either one JSON object or a stream of
// SSE chunks ending in an optional usage chunk and [DONE]. The two routes differ only in the
// shape of a choice, given here as a CompletionShape.

import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { admitted, type ServerContext } from '../context.js';
import { clientGone, streamError } from '../errors.js';
import { Generation, type GenerationRequest, type GenerationResult } from '../generation.js';
import { SseStream } from '../sse.js';
import { completionUsage } from '../usage.js';

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export function completionMeta(idPrefix: 'chatcmpl' | 'cmpl', model: string): CompletionMeta {
  return { id: `${idPrefix}-${randomBytes(12).toString('hex')}`, created: Math.floor(Date.now() / 1000), model };
}

/** An aborted request has no client left to tell, so only 'stop' and 'length' are ever reported. */
export function finishReason(result: GenerationResult): 'stop' | 'length' {
  return result.finishReason === 'length' ? 'length' : 'stop';
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
}

export interface CompletionRequest {
  generation: Omit<GenerationRequest, 'conversationId'>;
  stream: boolean;
  includeUsage: boolean;
}

/** Runs a stateless completion and answers with the object, or streams it. */
export function runCompletion(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, shape: CompletionShape, c: CompletionRequest) {
  return admitted(ctx, async () => {
    const generation = await Generation.start(ctx, { ...c.generation, conversationId: null }, reply);
    const meta = completionMeta(shape.idPrefix, ctx.engine.model.id);
    if (c.stream) return stream(ctx, reply, generation, meta, shape, c.includeUsage);
    const result = await generation.run();
    request.pensieveUsage = result.usage;
    if (result.finishReason === 'abort') throw clientGone();
    return {
      ...meta,
      object: shape.object,
      choices: [{ index: 0, ...shape.choice(result.text), logprobs: null, finish_reason: finishReason(result) }],
      usage: completionUsage(result.usage),
    };
  });
}

async function stream(
  ctx: ServerContext, reply: FastifyReply, generation: Generation, meta: CompletionMeta, shape: CompletionShape, includeUsage: boolean,
): Promise<void> {
  const sse = SseStream.open(reply);
  // With include_usage every chunk carries usage: null, and one last chunk (no choices) the totals.
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (fields: Record<string, unknown>, finish: 'stop' | 'length' | null) => ({
    ...meta,
    object: shape.chunkObject,
    choices: [{ index: 0, ...fields, logprobs: null, finish_reason: finish }],
    ...usageField,
  });
  if (shape.first) sse.send(chunk(shape.first, null));
  try {
    const result = await generation.run((text) => sse.send(chunk(shape.piece(text), null)));
    reply.request.pensieveUsage = result.usage;
    if (result.finishReason === 'abort') return;
    sse.send(chunk(shape.last, finishReason(result)));
    if (includeUsage) sse.send({ ...meta, object: shape.chunkObject, choices: [], usage: completionUsage(result.usage) });
    sse.done();
  } catch (err) {
    // Headers are gone: the error travels as a stream event, the way OpenAI reports one.
    sse.send(streamError(ctx, err).body);
    sse.done();
  } finally {
    sse.end();
  }
}
