// The web page: GET / for a browser (root.ts answers everyone else with the JSON index) and its
// files under /ui/. Public routes (auth.ts): the page asks for the API key and sends it to /v1.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { notFound } from '../errors.js';
import type { WebAsset } from '../web-assets.js';

export function sendAsset(reply: FastifyReply, asset: WebAsset): FastifyReply {
  // Revalidated on each load: a server upgraded in place never serves a stale page.
  return reply.type(asset.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(asset.body);
}

export function webRoutes(app: FastifyInstance, assets: ReadonlyMap<string, WebAsset>): void {
  app.get<{ Params: { file: string } }>('/ui/:file', async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (asset === undefined) throw notFound(`No file '${request.params.file}' in the web page.`, null, 'not_found');
    return sendAsset(reply, asset);
  });
}
