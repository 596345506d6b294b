// GET /health: answers 200 while the server takes requests (for load balancers and the CLI's
// readiness wait). Not under /v1, so the API key does not guard it.

import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/health', async () => ({
    status: 'ok',
    model: ctx.engine.model.id,
    requests_in_flight: ctx.admission.inFlight,
  }));
}
