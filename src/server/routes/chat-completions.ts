// POST /v1/chat/completions: stateless chat. The client resends the whole conversation each
// time; the engine's prefix cache (hash chain over full blocks) finds what it computed before,
// and usage.prompt_tokens_details.cached_tokens says how much. Streams as SSE chunks.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ChatMessage } from '../../model/chat-template.js';
import { admitted, checkModel, type ServerContext } from '../context.js';
import { badRequest, clientGone, streamError } from '../errors.js';
import { Generation } from '../generation.js';
import { completionMeta, finishReason, type CompletionMeta } from './completion-meta.js';
import { ignoreEosField, maxTokens, maxTokensField, samplingFields, stopField, toSamplingParams, toStopStrings } from '../sampling.js';
import { SseStream } from '../sse.js';
import { completionUsage } from '../usage.js';
import { parse, unsupported } from '../validate.js';

const TextPart = z.object({ type: z.literal('text'), text: z.string() });

const Message = z.object({
  // 'tool' messages need tool calls, which this server does not make.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(TextPart)]),
  name: z.string().nullish(),
});

const Body = z.object({
  model: z.string(),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number().int().nullish(),
  max_tokens: maxTokensField,
  max_completion_tokens: maxTokensField,
  stop: stopField,
  ignore_eos: ignoreEosField,
  ...samplingFields,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
  tools: z.array(z.unknown()).nullish(),
  response_format: z.object({ type: z.string() }).nullish(),
});
type Body = z.output<typeof Body>;

/** Refuses what OpenAI defines and this server cannot do, instead of quietly ignoring it. */
function checkSupported(body: Body): void {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw badRequest(`n must be 1; got ${body.n}`, 'n', 'unsupported_value');
  if (body.logprobs) unsupported('logprobs', 'returning log probabilities');
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) unsupported('top_logprobs', 'returning log probabilities');
  if (body.tools && body.tools.length > 0) unsupported('tools', 'tool calling');
  if (body.response_format && body.response_format.type !== 'text') unsupported('response_format', `response_format '${body.response_format.type}'`);
}

function toChatMessages(messages: Body['messages']): ChatMessage[] {
  return messages.map((m) => ({
    // Chat templates know 'system'; 'developer' is OpenAI's newer name for the same thing.
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
}

export function chatCompletionsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/chat/completions', (request, reply) => {
    const body = parse(Body, request.body);
    checkModel(ctx, body.model);
    checkSupported(body);
    const limit = maxTokens(ctx.engine.model, [['max_completion_tokens', body.max_completion_tokens], ['max_tokens', body.max_tokens]]);
    return admitted(ctx, async () => {
      const generation = await Generation.start(
        ctx,
        {
          prompt: { kind: 'chat', messages: toChatMessages(body.messages) },
          conversationId: null,
          sampling: toSamplingParams(body),
          maxTokens: limit,
          stop: toStopStrings(body.stop),
          ignoreEos: body.ignore_eos ?? false,
          promptParam: 'messages',
        },
        reply,
      );
      const meta = completionMeta('chatcmpl', ctx.engine.model.id);
      if (body.stream) return stream(ctx, reply, generation, meta, body.stream_options?.include_usage === true);
      const result = await generation.run();
      request.pensieveUsage = result.usage;
      if (result.finishReason === 'abort') throw clientGone();
      return {
        ...meta,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: result.text, refusal: null }, logprobs: null, finish_reason: finishReason(result) }],
        usage: completionUsage(result.usage),
      };
    });
  });
}

async function stream(ctx: ServerContext, reply: FastifyReply, generation: Generation, meta: CompletionMeta, includeUsage: boolean): Promise<void> {
  const sse = SseStream.open(reply);
  // With include_usage every chunk carries usage: null, and one last chunk (no choices) the totals.
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, string>, finish: 'stop' | 'length' | null) => ({
    ...meta,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...usageField,
  });
  sse.send(chunk({ role: 'assistant', content: '' }, null));
  try {
    const result = await generation.run((text) => sse.send(chunk({ content: text }, null)));
    reply.request.pensieveUsage = result.usage;
    if (result.finishReason === 'abort') return;
    sse.send(chunk({}, finishReason(result)));
    if (includeUsage) sse.send({ ...meta, object: 'chat.completion.chunk', choices: [], usage: completionUsage(result.usage) });
    sse.done();
  } catch (err) {
    // Headers are gone: the error travels as a stream event, the way OpenAI reports one.
    sse.send(streamError(ctx, err).body);
    sse.done();
  } finally {
    sse.end();
  }
}
