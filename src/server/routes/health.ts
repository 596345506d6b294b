// GET /health: 200 while the server takes requests (for load balancers and the CLI's readiness
// wait); 503 with status "loading" while the model loads and "shutting_down" while it drains
// (llama-server answers the same way), so a probe takes it out of rotation. Not under /v1, so
// the API key does not guard it.

import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { RESTART_RETRY_AFTER_S } from '../errors.js';

const STATUS = { loading: 'loading', ready: 'ok', draining: 'shutting_down' } as const;

export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/health', async (_request, reply) => {
    const phase = ctx.lifecycle.phase;
    if (phase !== 'ready') void reply.status(503).header('retry-after', String(RESTART_RETRY_AFTER_S));
    return {
      status: STATUS[phase],
      model: phase === 'loading' ? null : ctx.modelNames()[0],
      requests_in_flight: ctx.admission.inFlight,
    };
  });
}
