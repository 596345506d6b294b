// GET /v1/pensieve/cache: the cache as the web page draws it (cache-view.ts), polled every second
// or so. Under /v1, so --api-key guards it like the API; a tenant sees only its own conversations.

import type { FastifyInstance } from 'fastify';
import { cacheView } from '../cache-view.js';
import type { ServerContext } from '../context.js';

export function pensieveCacheRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/v1/pensieve/cache', async (request) => {
    const stats = await ctx.engine.stats();
    // A conversation's cache name is a Conversation id or a Responses chain's root response id.
    const isVisible = async (id: string) =>
      (await ctx.store.getConversation(request.owner, id)) !== undefined || (await ctx.store.getResponse(request.owner, id)) !== undefined;
    const visible = new Set<string>();
    for (const c of stats.conversations) if (await isVisible(c.id)) visible.add(c.id);
    return cacheView(stats, (id) => visible.has(id));
  });
}
