// POST /v1/chat/completions: stateless chat. The client resends the whole conversation each
// time; the engine's prefix cache (hash chain over full blocks) finds what it computed before,
// and usage.prompt_tokens_details.cached_tokens says how much. Streams as SSE chunks.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ChatMessage } from '../../model/chat-template.js';
import { checkModel, type ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { runCompletion, type CompletionShape } from './completion-flow.js';
import { ignoreEosField, maxTokens, maxTokensField, samplingFields, stopField, toSamplingParams, toStopStrings } from '../sampling.js';
import type { PromptFields } from '../prompt-scan.js';
import { chatResponseFormat, responseFormatField } from '../response-format.js';
import { parse, refusedFields, refuseUnsupported, unsupported, userFields } from '../validate.js';
import { setRequestUser } from '../request-log.js';

const TextPart = z.strictObject({ type: z.literal('text'), text: z.string() });

const Message = z.strictObject({
  // 'tool' messages need tool calls, which this server does not make.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(TextPart)]),
  // Chat templates have no place for a participant's name: refused below rather than dropped.
  name: z.string().nullish(),
});

const UNSUPPORTED = [
  'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'reasoning_effort', 'audio', 'modalities',
  'prediction', 'web_search_options', 'service_tier', 'verbosity', 'prompt_cache_key', 'store',
] as const;

const Body = z.strictObject({
  model: z.string(),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number().int().nullish(),
  max_tokens: maxTokensField,
  max_completion_tokens: maxTokensField,
  stop: stopField,
  ignore_eos: ignoreEosField,
  ...samplingFields,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
  tools: z.array(z.unknown()).nullish(),
  response_format: responseFormatField,
  ...userFields,
  ...refusedFields(UNSUPPORTED),
});
type Body = z.output<typeof Body>;

/** Where the prompt text sits, measured as the body arrives (json-body.ts). */
const PROMPT: PromptFields = { param: 'messages', text: ['messages[].content', 'messages[].content[].text'] };

/** Refuses what OpenAI defines and this server cannot do, instead of quietly ignoring it. */
function checkSupported(body: Body): void {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw badRequest(`n must be 1; got ${body.n}`, 'n', 'unsupported_value');
  if (body.logprobs) unsupported('logprobs', 'returning log probabilities');
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) unsupported('top_logprobs', 'returning log probabilities');
  if (body.tools && body.tools.length > 0) unsupported('tools', 'tool calling');
  body.messages.forEach((m, i) => {
    if (m.name !== undefined && m.name !== null) unsupported(`messages[${i}].name`, 'a message name');
  });
}

function toChatMessages(messages: Body['messages']): ChatMessage[] {
  return messages.map((m) => ({
    // Chat templates know 'system'; 'developer' is OpenAI's newer name for the same thing.
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
}

const SHAPE: CompletionShape = {
  idPrefix: 'chatcmpl',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  choice: (text) => ({ message: { role: 'assistant', content: text, refusal: null } }),
  piece: (text) => ({ delta: { content: text } }),
  last: { delta: {} },
  first: { delta: { role: 'assistant', content: '' } },
};

export function chatCompletionsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/chat/completions', { config: { prompt: PROMPT } }, (request, reply) => {
    refuseUnsupported(request.body, UNSUPPORTED);
    const body = parse(Body, request.body);
    checkModel(ctx, body.model);
    checkSupported(body);
    setRequestUser(request, body.user ?? body.safety_identifier);
    const limit = maxTokens(ctx.engine.model, [['max_completion_tokens', body.max_completion_tokens], ['max_tokens', body.max_tokens]]);
    return runCompletion(ctx, request, reply, SHAPE, {
      generation: {
        prompt: { kind: 'chat', messages: toChatMessages(body.messages) },
        sampling: toSamplingParams(body, ctx.engine.model.vocabSize),
        maxTokens: limit,
        stop: toStopStrings(body.stop),
        ignoreEos: body.ignore_eos ?? false,
        responseFormat: chatResponseFormat(body.response_format),
        promptParam: 'messages',
      },
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    });
  });
}
