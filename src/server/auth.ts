// Optional API key: with one set, every /v1 request must carry "Authorization: Bearer <key>"
// (what the OpenAI clients send). /health and /metrics stay open, as in vLLM, so probes and
// scrapers need no secret.

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerAuth(app: FastifyInstance, apiKey: string): void {
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') && request.url !== '/v1') return;
    const header = request.headers.authorization;
    if (header === undefined) {
      throw new ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", 'invalid_request_error', null, 'missing_api_key');
    }
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match === null || !sameKey(match[1]!.trim(), apiKey)) {
      throw new ApiError(401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
    }
  });
}
