// GET /v1/models and /v1/models/{id}: the one model this server serves, under the id requests
// must name, with its context window (vLLM's max_model_len).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServerContext } from '../context.js';
import { modelNotFound } from '../errors.js';
import { parse } from '../validate.js';

const Params = z.object({ id: z.string() });

export function modelsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const created = Math.floor(Date.now() / 1000);
  const model = () => {
    const m = ctx.engine.model;
    return { id: m.id, object: 'model', created, owned_by: 'pensieve', root: m.source, max_model_len: m.contextLength };
  };

  app.get('/v1/models', async () => ({ object: 'list', data: [model()] }));

  app.get('/v1/models/:id', async (request) => {
    const { id } = parse(Params, request.params);
    if (id !== ctx.engine.model.id) throw modelNotFound(id);
    return model();
  });
}
