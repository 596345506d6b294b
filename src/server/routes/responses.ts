// The Responses API: POST /v1/responses (stateful turns, streamed or not), GET and DELETE
// /v1/responses/{id}, GET /v1/responses/{id}/input_items. A turn continues a chain of stored
// responses (previous_response_id) or a conversation (conversation); the turn logic is in
// turns.ts, shared by both.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { newId, type ConversationItem, type Owner } from '../../store/index.js';
import { admitted, checkModel, type ServerContext } from '../context.js';
import { badRequest, clientGone, notFound, streamError } from '../errors.js';
import { ResponseInput, toInputItems } from '../items.js';
import { failedResponse, inProgressResponse, type ResponseParams } from '../response-object.js';
import { ignoreEosField, maxTokens, maxTokensField, samplingFields, stopField, toSamplingParams, toStopStrings } from '../sampling.js';
import { responseFormatField, textFormat } from '../response-format.js';
import { SseStream } from '../sse.js';
import { runTurn, type TurnRequest } from '../turns.js';
import type { PromptFields } from '../prompt-scan.js';
import { metadataField, parse, queryInt, refusedFields, refuseUnsupported, unsupported, userFields } from '../validate.js';
import { planTools, RESPONSES_TOOL_PARAMS, ResponsesToolChoiceField, ResponsesToolField, responsesTools, toolChoice } from '../tools.js';
import { setRequestUser } from '../request-log.js';
import { chainRouteKey } from '../route-key.js';
import { ResponseEventStream } from './responses-stream.js';

const UNSUPPORTED = [
  'max_tool_calls', 'reasoning', 'include', 'truncation', 'service_tier', 'prompt',
  'prompt_cache_key',
] as const;

const Body = z.strictObject({
  model: z.string(),
  input: ResponseInput.nullish(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  conversation: z.union([z.string().min(1), z.strictObject({ id: z.string().min(1) })]).nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  max_output_tokens: maxTokensField,
  metadata: metadataField.nullish(),
  // Beyond OpenAI's temperature and top_p, the other samplers and stop (as vLLM takes them).
  ...samplingFields,
  stop: stopField,
  ignore_eos: ignoreEosField,
  tools: ResponsesToolField,
  tool_choice: ResponsesToolChoiceField,
  parallel_tool_calls: z.boolean().nullish(),
  background: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
  text: z.strictObject({ format: responseFormatField }).nullish(),
  ...userFields,
  ...refusedFields(UNSUPPORTED),
});
type Body = z.output<typeof Body>;

/** Where the prompt text sits (the instructions too), measured as the body arrives (json-body.ts). */
const PROMPT: PromptFields = {
  param: 'input',
  text: ['input', 'input[].content', 'input[].content[].text', 'input[].content[].refusal', 'input[].output', 'input[].arguments', 'tools[].description', 'instructions'],
};

const IdParams = z.object({ id: z.string() });

const ListQuery = z.object({
  limit: queryInt.min(1).max(100).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  after: z.string().optional(),
});

function checkSupported(body: Body): void {
  if (body.background) unsupported('background', 'background mode');
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) unsupported('top_logprobs', 'returning log probabilities');
  if (body.conversation && body.previous_response_id) {
    throw badRequest('previous_response_id and conversation cannot be used together', 'previous_response_id', 'mutually_exclusive');
  }
}

/** The conversation a turn names, as an id. */
function conversationId(body: Body): string | null {
  const conversation = body.conversation ?? null;
  return typeof conversation === 'string' ? conversation : (conversation?.id ?? null);
}

/** `routeKey`: the key of the chain this turn belongs to (route-key.ts), which its id carries. */
function turnRequest(ctx: ServerContext, owner: Owner, body: Body, routeKey: string): TurnRequest {
  const model = ctx.engine.model;
  const params: ResponseParams = {
    id: newId('resp', routeKey),
    createdAt: Math.floor(Date.now() / 1000),
    model: body.model, // the name the client used: any of --served-model-name
    instructions: body.instructions ?? null,
    previousResponseId: body.previous_response_id ?? null,
    conversationId: conversationId(body),
    maxOutputTokens: body.max_output_tokens ?? null,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    metadata: body.metadata ?? {},
    store: body.store ?? true,
    tools: body.tools ?? [],
    toolChoice: body.tool_choice ?? (body.tools && body.tools.length > 0 ? 'auto' : 'none'),
    parallelToolCalls: body.parallel_tool_calls ?? true,
  };
  const responseFormat = textFormat(body.text?.format);
  if (responseFormat !== undefined) params.textFormat = body.text!.format as Record<string, unknown>;
  const tools = planTools(model, responsesTools(body.tools), toolChoice(body.tool_choice), body.parallel_tool_calls, RESPONSES_TOOL_PARAMS, responseFormat !== undefined);
  return {
    owner,
    params,
    input: toInputItems(body.input ?? []),
    outputId: newId('msg'),
    sampling: toSamplingParams(body, model.vocabSize),
    maxTokens: maxTokens(model, [['max_output_tokens', body.max_output_tokens]]),
    stop: toStopStrings(body.stop),
    ignoreEos: body.ignore_eos ?? false,
    ...(tools.format !== undefined ? { responseFormat: tools.format } : responseFormat === undefined ? {} : { responseFormat }),
    tools,
  };
}

async function streamTurn(ctx: ServerContext, turn: TurnRequest, reply: FastifyReply): Promise<void> {
  // Opened once the engine accepted the prompt; a refusal before that is a plain error response.
  const open: { sse?: SseStream; events?: ResponseEventStream } = {};
  try {
    const outcome = await runTurn(ctx, turn, reply, {
      accepted: () => {
        open.sse = SseStream.open(reply);
        open.events = new ResponseEventStream(open.sse);
        open.events.begin(inProgressResponse(turn.params));
      },
      output: {
        added: (item, i) => open.events?.added(item, i),
        delta: (item, i, text) => open.events?.delta(item, i, text),
        done: (item, i) => open.events?.done(item, i),
      },
    });
    reply.request.pensieveUsage = outcome.result.usage;
    if (outcome.response !== null) open.events?.finish(outcome.response);
  } catch (err) {
    if (open.events === undefined) throw err;
    open.events.fail(failedResponse(turn.params, streamError(ctx, err).message));
  } finally {
    open.sse?.end();
  }
}

export function responsesRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/responses', { config: { prompt: PROMPT } }, (request, reply) => {
    refuseUnsupported(request.body, UNSUPPORTED);
    const body = parse(Body, request.body);
    checkModel(ctx, body.model);
    checkSupported(body);
    setRequestUser(request, body.user ?? body.safety_identifier);
    const turn = turnRequest(ctx, request.owner, body, chainRouteKey(request, body.previous_response_id, conversationId(body)));
    return admitted(ctx, async () => {
      if (body.stream) return streamTurn(ctx, turn, reply);
      const outcome = await runTurn(ctx, turn, reply);
      request.pensieveUsage = outcome.result.usage;
      if (outcome.response === null) throw clientGone();
      return outcome.response;
    });
  });

  app.get('/v1/responses/:id', async (request) => {
    const { id } = parse(IdParams, request.params);
    const stored = await ctx.store.getResponse(request.owner, id);
    if (stored === undefined) throw notFound(`Response with id '${id}' not found.`);
    return stored.object;
  });

  app.delete('/v1/responses/:id', async (request) => {
    const { id } = parse(IdParams, request.params);
    if (!(await ctx.store.deleteResponse(request.owner, id))) throw notFound(`Response with id '${id}' not found.`);
    return { id, object: 'response.deleted', deleted: true };
  });

  app.get('/v1/responses/:id/input_items', async (request) => {
    const { id } = parse(IdParams, request.params);
    const query = parse(ListQuery, request.query);
    const stored = await ctx.store.getResponse(request.owner, id);
    if (stored === undefined) throw notFound(`Response with id '${id}' not found.`);
    return page(stored.input, query);
  });
}

/** OpenAI list pagination over a response's few input items, held in memory. */
function page(items: ConversationItem[], query: z.output<typeof ListQuery>) {
  const ordered = query.order === 'asc' ? items : [...items].reverse();
  let start = 0;
  if (query.after !== undefined) {
    const at = ordered.findIndex((i) => i.id === query.after);
    if (at < 0) throw badRequest(`after: no item '${query.after}' in this response's input`, 'after');
    start = at + 1;
  }
  const limit = query.limit ?? 20;
  const data = ordered.slice(start, start + limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < ordered.length };
}
