// POST /v1/chat/completions: stateless chat. The client resends the whole conversation each
// time; the engine's prefix cache (hash chain over full blocks) finds what it computed before,
// and usage.prompt_tokens_details.cached_tokens says how much. Streams as SSE chunks. Tools
// (tools.ts) and reasoning split the reply into content, reasoning_content and tool_calls
// (chat-reply.ts).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { chatMessagesField, chatTemplateKwargsField, checkMessages, toChatMessages } from '../chat-messages.js';
import { checkModel, type ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { MAX_TOP_LOGPROBS } from '../../engine/logprobs.js';
import { chatLogprob, nField, runCompletion, type CompletionShape } from './completion-flow.js';
import { ignoreEosField, maxTokens, maxTokensField, samplingFields, stopField, toSamplingParams, toStopStrings } from '../sampling.js';
import type { PromptFields } from '../prompt-scan.js';
import { chatResponseFormat, responseFormatField } from '../response-format.js';
import { parse, refusedFields, refuseUnsupported, userFields } from '../validate.js';
import { CHAT_TOOL_PARAMS, ChatToolChoiceField, ChatToolField, chatTools, planTools, toolChoice } from '../tools.js';
import { replySplit } from '../chat-reply.js';
import { setRequestUser } from '../request-log.js';

const UNSUPPORTED = [
  'functions', 'function_call', 'reasoning_effort', 'audio', 'modalities',
  'prediction', 'web_search_options', 'service_tier', 'verbosity', 'prompt_cache_key', 'store',
] as const;

const Body = z.strictObject({
  model: z.string(),
  messages: chatMessagesField,
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: nField,
  max_tokens: maxTokensField,
  max_completion_tokens: maxTokensField,
  stop: stopField,
  ignore_eos: ignoreEosField,
  ...samplingFields,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  tools: ChatToolField,
  tool_choice: ChatToolChoiceField,
  parallel_tool_calls: z.boolean().nullish(),
  chat_template_kwargs: chatTemplateKwargsField,
  response_format: responseFormatField,
  ...userFields,
  ...refusedFields(UNSUPPORTED),
});
type Body = z.output<typeof Body>;

/** Where the prompt text sits, measured as the body arrives (json-body.ts). */
const PROMPT: PromptFields = {
  param: 'messages',
  text: ['messages[].content', 'messages[].content[].text', 'messages[].reasoning_content', 'messages[].tool_calls[].function.arguments', 'tools[].function.description'],
};

/** Refuses what OpenAI defines and this server cannot do, instead of quietly ignoring it. */
function checkSupported(body: Body): void {
  if (body.top_logprobs != null && !body.logprobs) throw badRequest('top_logprobs requires logprobs: true', 'top_logprobs', 'invalid_value');
  checkMessages(body.messages);
}


const SHAPE: CompletionShape = {
  idPrefix: 'chatcmpl',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  choice: (text) => ({ message: { role: 'assistant', content: text, refusal: null } }),
  piece: (text) => ({ delta: { content: text } }),
  last: { delta: {} },
  first: { delta: { role: 'assistant', content: '' } },
  logprobs: (tokens) => ({ content: tokens.map(chatLogprob), refusal: null }),
};

export function chatCompletionsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/chat/completions', { config: { prompt: PROMPT } }, (request, reply) => {
    refuseUnsupported(request.body, UNSUPPORTED);
    const body = parse(Body, request.body);
    checkModel(ctx, body.model);
    checkSupported(body);
    setRequestUser(request, body.user ?? body.safety_identifier);
    const responseFormat = chatResponseFormat(body.response_format);
    const tools = planTools(ctx.engine.model, chatTools(body.tools), toolChoice(body.tool_choice), body.parallel_tool_calls, CHAT_TOOL_PARAMS, responseFormat !== undefined);
    const limit = maxTokens(ctx.engine.model, [['max_completion_tokens', body.max_completion_tokens], ['max_tokens', body.max_tokens]]);
    return runCompletion(ctx, request, reply, SHAPE, {
      generation: {
        prompt: {
          kind: 'chat',
          messages: toChatMessages(body.messages),
          ...(body.chat_template_kwargs ? { templateKwargs: body.chat_template_kwargs } : {}),
          ...(tools.templateTools.length > 0 ? { tools: tools.templateTools } : {}),
        },
        sampling: toSamplingParams(body, ctx.engine.model.vocabSize),
        maxTokens: limit,
        stop: toStopStrings(body.stop),
        ignoreEos: body.ignore_eos ?? false,
        responseFormat: tools.format ?? responseFormat,
        promptParam: 'messages',
        logprobs: body.logprobs ? (body.top_logprobs ?? 0) : null,
      },
      n: body.n ?? 1,
      model: body.model,
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      split: replySplit(ctx.engine.model, tools),
    });
  });
}
