// GET /: what someone who opens the server's address in a browser or with curl needs to find
// the API (the OpenAI-compatible /v1 base, its routes, the model, where the docs are). Not under
// /v1, like /health. A browser asking for HTML gets the web page instead (web.ts).

import type { FastifyInstance } from 'fastify';
import { packageInfo } from '../../package-info.js';
import type { ServerContext } from '../context.js';
import { wantsPage, type WebAsset } from '../web-assets.js';
import { sendAsset } from './web.js';

export function rootRoutes(app: FastifyInstance, ctx: ServerContext, page?: WebAsset): void {
  const { name, version } = packageInfo();
  app.get('/', async (request, reply) => page !== undefined && wantsPage(request) ? sendAsset(reply, page) : ({
    name,
    version,
    model: ctx.modelNames()[0],
    // The base an OpenAI client takes (base_url / baseURL), as this client reached the server.
    api_base: `${request.protocol}://${request.host}/v1`,
    endpoints: ['/v1/models', '/v1/chat/completions', '/v1/completions', '/v1/responses', '/v1/conversations', '/v1/pensieve/cache'],
    health: '/health',
    metrics: '/metrics',
    docs: 'README.md of the Pensieve repository: the Usage section lists every route and flag',
  }));
}
