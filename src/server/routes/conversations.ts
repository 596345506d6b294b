// The Conversations API's conversation objects: POST /v1/conversations (with up to 20 first
// items), GET, POST (update metadata) and DELETE /v1/conversations/{id}. Their items live in
// conversation-items.ts; turns that add to a conversation go through POST /v1/responses.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServerContext } from '../context.js';
import { conversationNotFound } from '../errors.js';
import { checkUniqueIds, InputItem, toInputItems } from '../items.js';
import { chainRouteKey } from '../route-key.js';
import { metadataField, parse } from '../validate.js';

/** OpenAI's limit on items added in one request. */
export const MAX_ITEMS_PER_REQUEST = 20;

const CreateBody = z
  .strictObject({
    metadata: metadataField.nullish(),
    items: z.array(InputItem).max(MAX_ITEMS_PER_REQUEST).nullish(),
  })
  .nullish();

const UpdateBody = z.strictObject({ metadata: metadataField });

export const ConversationParams = z.object({ id: z.string() });

export function conversationsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/conversations', async (request) => {
    const body = parse(CreateBody, request.body);
    const items = toInputItems(body?.items ?? []);
    checkUniqueIds(items, 'items');
    return ctx.store.createConversation(request.owner, { metadata: body?.metadata ?? {}, items, routeKey: chainRouteKey(request) });
  });

  app.get('/v1/conversations/:id', async (request) => {
    const { id } = parse(ConversationParams, request.params);
    const conversation = await ctx.store.getConversation(request.owner, id);
    if (conversation === undefined) throw conversationNotFound(id);
    return conversation;
  });

  app.post('/v1/conversations/:id', async (request) => {
    const { id } = parse(ConversationParams, request.params);
    const body = parse(UpdateBody, request.body);
    const conversation = await ctx.store.updateConversation(request.owner, id, { metadata: body.metadata });
    if (conversation === undefined) throw conversationNotFound(id);
    return conversation;
  });

  app.delete('/v1/conversations/:id', async (request) => {
    const { id } = parse(ConversationParams, request.params);
    if (!(await ctx.store.deleteConversation(request.owner, id))) throw conversationNotFound(id);
    return { id, object: 'conversation.deleted', deleted: true };
  });
}
