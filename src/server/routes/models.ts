// GET /v1/models and /v1/models/{id}: the one model this server serves, under each name requests
// may give (--served-model-name, else its id), with its context window (vLLM's max_model_len).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkModel, type ServerContext } from '../context.js';
import { parse } from '../validate.js';

const Params = z.object({ id: z.string() });

export function modelsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const created = Math.floor(Date.now() / 1000);
  const model = (id: string) => {
    const m = ctx.engine.model;
    return { id, object: 'model', created, owned_by: 'pensieve', root: m.source, max_model_len: m.contextLength };
  };

  // One entry per served name (vLLM lists each --served-model-name the same way).
  app.get('/v1/models', async () => ({ object: 'list', data: ctx.modelNames().map(model) }));

  app.get('/v1/models/:id', async (request) => {
    const { id } = parse(Params, request.params);
    checkModel(ctx, id);
    return model(id);
  });
}
