// POST /v1/completions: the legacy text completion API. One prompt per request, given as a
// string or as token ids (or a list holding exactly one of those); streamed as SSE or not.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PromptInput } from '../../engine/protocol.js';
import { checkModel, type ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { completionLogprobs, nField, runCompletion, type CompletionShape } from './completion-flow.js';
import { ignoreEosField, maxTokens, maxTokensField, samplingFields, stopField, toSamplingParams, toStopStrings } from '../sampling.js';
import type { PromptFields } from '../prompt-scan.js';
import { parse, refusedFields, refuseUnsupported, unsupported, userFields } from '../validate.js';
import { setRequestUser } from '../request-log.js';

const TokenIds = z.array(z.number().int().min(0)).min(1);
const OnePrompt = z.union([z.string(), TokenIds]);

const UNSUPPORTED = ['service_tier', 'prompt_cache_key'] as const;

const Body = z.strictObject({
  model: z.string(),
  prompt: z.union([OnePrompt, z.array(z.string()), z.array(TokenIds)]),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: maxTokensField,
  stop: stopField,
  ignore_eos: ignoreEosField,
  ...samplingFields,
  n: nField,
  best_of: z.number().int().nullish(),
  echo: z.boolean().nullish(),
  // OpenAI's legacy limit: at most 5 alternatives.
  logprobs: z.number().int().min(0).max(5).nullish(),
  suffix: z.string().nullish(),
  ...userFields,
  ...refusedFields(UNSUPPORTED),
});
type Body = z.output<typeof Body>;

/** Where the prompt (text or token ids) sits, measured as the body arrives (json-body.ts). */
const PROMPT: PromptFields = { param: 'prompt', text: ['prompt', 'prompt[]'], tokenIds: ['prompt[]', 'prompt[][]'] };

// OpenAI's default for this endpoint, unlike chat's "until the context is full".
const DEFAULT_MAX_TOKENS = 16;

function toPrompt(prompt: Body['prompt']): PromptInput {
  if (typeof prompt === 'string') return { kind: 'text', text: prompt };
  if (prompt.length > 0 && prompt.every((p) => typeof p === 'number')) return { kind: 'tokens', tokens: prompt as number[] };
  // A list of prompts: one is a single prompt, several would be a batch this server does not take.
  if (prompt.length !== 1) throw badRequest(`prompt must be one prompt; got a list of ${prompt.length}`, 'prompt', 'unsupported_value');
  const only = prompt[0]!;
  return typeof only === 'string' ? { kind: 'text', text: only } : { kind: 'tokens', tokens: only as number[] };
}

function checkSupported(body: Body): void {
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) unsupported('best_of', 'best_of other than 1');
  if (body.echo) unsupported('echo', 'echoing the prompt');
  if (body.suffix) unsupported('suffix', 'a suffix (fill-in-the-middle)');
}

const SHAPE: CompletionShape = {
  idPrefix: 'cmpl',
  object: 'text_completion',
  chunkObject: 'text_completion',
  choice: (text) => ({ text }),
  piece: (text) => ({ text }),
  last: { text: '' },
  logprobs: completionLogprobs,
};

export function completionsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/completions', { config: { prompt: PROMPT } }, (request, reply) => {
    refuseUnsupported(request.body, UNSUPPORTED);
    const body = parse(Body, request.body);
    checkModel(ctx, body.model);
    checkSupported(body);
    setRequestUser(request, body.user ?? body.safety_identifier);
    const prompt = toPrompt(body.prompt);
    const limit = maxTokens(ctx.engine.model, [['max_tokens', body.max_tokens ?? DEFAULT_MAX_TOKENS]]);
    return runCompletion(ctx, request, reply, SHAPE, {
      generation: {
        prompt,
        sampling: toSamplingParams(body, ctx.engine.model.vocabSize),
        maxTokens: limit,
        stop: toStopStrings(body.stop),
        ignoreEos: body.ignore_eos ?? false,
        promptParam: 'prompt',
        logprobs: body.logprobs ?? null,
      },
      n: body.n ?? 1,
      model: body.model,
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    });
  });
}
