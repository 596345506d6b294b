// POST /tokenize and /detokenize, in vLLM's shapes: a prompt (text, or chat messages rendered
// through the model's template exactly as /v1/chat/completions renders them) to its token ids,
// and ids back to text. Clients use them to count tokens before they send, and to check how a
// template renders. Prompts longer than the context are counted too (max_model_len says the limit).

import { CHAT_TOOL_PARAMS, ChatToolField, chatTools, planTools } from '../tools.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RequestRejectedError } from '../../engine/client.js';
import type { PromptInput } from '../../engine/protocol.js';
import { chatMessagesField, chatTemplateKwargsField, checkMessages, toChatMessages } from '../chat-messages.js';
import { checkModel, type ServerContext } from '../context.js';
import { rejected } from '../errors.js';
import { parse } from '../validate.js';

const common = {
  model: z.string().nullish(),
  return_token_strs: z.boolean().nullish(),
};

const TextBody = z.strictObject({
  ...common,
  prompt: z.string(),
  // The tokenizer's own BOS setting, as a completion request gets it; false would differ from that.
  add_special_tokens: z.literal(true).nullish(),
});

const ChatBody = z.strictObject({
  ...common,
  messages: chatMessagesField,
  // A chat request always renders the assistant's opening; tokenize counts the same prompt.
  add_generation_prompt: z.literal(true).nullish(),
  add_special_tokens: z.literal(false).nullish(),
  chat_template_kwargs: chatTemplateKwargsField,
  // vLLM's: the tools a chat request would carry, rendered into the prompt the same way.
  tools: ChatToolField,
});

const DetokenizeBody = z.strictObject({
  model: z.string().nullish(),
  tokens: z.array(z.number().int()),
});

function toPrompt(ctx: ServerContext, body: unknown): { prompt: PromptInput; param: string; pieces: boolean; model: string | null | undefined } {
  if (typeof body === 'object' && body !== null && 'messages' in body) {
    const chat = parse(ChatBody, body);
    checkMessages(chat.messages);
    const tools = planTools(ctx.engine.model, chatTools(chat.tools), undefined, null, CHAT_TOOL_PARAMS, false).templateTools;
    const prompt: PromptInput = {
      kind: 'chat',
      messages: toChatMessages(chat.messages),
      ...(chat.chat_template_kwargs ? { templateKwargs: chat.chat_template_kwargs } : {}),
      ...(tools.length > 0 ? { tools } : {}),
    };
    return { prompt, param: 'messages', pieces: chat.return_token_strs === true, model: chat.model };
  }
  const text = parse(TextBody, body);
  return { prompt: { kind: 'text', text: text.prompt }, param: 'prompt', pieces: text.return_token_strs === true, model: text.model };
}

export function tokenizeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/tokenize', async (request) => {
    const { prompt, param, pieces, model } = toPrompt(ctx, request.body);
    if (model != null) checkModel(ctx, model);
    try {
      const t = await ctx.engine.tokenize(prompt, { pieces, contextLength: Number.MAX_SAFE_INTEGER });
      return { count: t.tokens.length, max_model_len: ctx.engine.model.contextLength, tokens: t.tokens, token_strs: t.pieces };
    } catch (err) {
      if (err instanceof RequestRejectedError) throw rejected(err, param);
      throw err;
    }
  });

  app.post('/detokenize', async (request) => {
    const body = parse(DetokenizeBody, request.body);
    if (body.model != null) checkModel(ctx, body.model);
    try {
      return { prompt: await ctx.engine.detokenize(body.tokens) };
    } catch (err) {
      if (err instanceof RequestRejectedError) throw rejected(err, 'tokens');
      throw err;
    }
  });
}
