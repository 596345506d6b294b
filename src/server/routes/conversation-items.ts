// A conversation's items: GET (paginated) and POST (up to 20) /v1/conversations/{id}/items, GET
// and DELETE /v1/conversations/{id}/items/{item_id}. Writes wait for the conversation's running
// turn, like turns themselves, so a turn never commits on top of items changed under it.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServerContext } from '../context.js';
import { badRequest, conversationNotFound, notFound } from '../errors.js';
import { checkUniqueIds, InputItem, toInputItems } from '../items.js';
import { parse, queryInt } from '../validate.js';
import { ConversationParams, MAX_ITEMS_PER_REQUEST } from './conversations.js';

const ItemParams = z.object({ id: z.string(), item_id: z.string() });

const ListQuery = z.object({
  limit: queryInt.min(1).max(100).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  after: z.string().optional(),
});

const AddBody = z.strictObject({ items: z.array(InputItem).min(1).max(MAX_ITEMS_PER_REQUEST) });

export function conversationItemsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/v1/conversations/:id/items', async (request) => {
    const { id } = parse(ConversationParams, request.params);
    const query = parse(ListQuery, request.query);
    const page = await ctx.store.listItems(request.owner, id, query);
    if (page === undefined) throw conversationNotFound(id);
    return page;
  });

  app.post('/v1/conversations/:id/items', async (request) => {
    const { id } = parse(ConversationParams, request.params);
    const body = parse(AddBody, request.body);
    const items = toInputItems(body.items);
    checkUniqueIds(items, 'items');
    return ctx.locks.run(id, async () => {
      if ((await ctx.store.getConversation(request.owner, id)) === undefined) throw conversationNotFound(id);
      for (const [i, item] of items.entries()) {
        if ((await ctx.store.getItem(request.owner, id, item.id)) !== undefined) {
          throw badRequest(`items[${i}].id: item '${item.id}' is already in the conversation`, `items[${i}].id`, 'duplicate_id');
        }
      }
      const data = await ctx.store.addItems(request.owner, id, items);
      if (data === undefined) throw conversationNotFound(id);
      return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false };
    });
  });

  app.get('/v1/conversations/:id/items/:item_id', async (request) => {
    const { id, item_id: itemId } = parse(ItemParams, request.params);
    if ((await ctx.store.getConversation(request.owner, id)) === undefined) throw conversationNotFound(id);
    const item = await ctx.store.getItem(request.owner, id, itemId);
    if (item === undefined) throw notFound(`Item with id '${itemId}' not found in conversation '${id}'.`, null, 'item_not_found');
    return item;
  });

  /** Answers with the conversation, as OpenAI does. */
  app.delete('/v1/conversations/:id/items/:item_id', async (request) => {
    const { id, item_id: itemId } = parse(ItemParams, request.params);
    return ctx.locks.run(id, async () => {
      const conversation = await ctx.store.getConversation(request.owner, id);
      if (conversation === undefined) throw conversationNotFound(id);
      if (!(await ctx.store.deleteItem(request.owner, id, itemId))) throw notFound(`Item with id '${itemId}' not found in conversation '${id}'.`, null, 'item_not_found');
      return conversation;
    });
  });
}
