// One log line per request, written when the response is done (or the client left): method,
// path, status, the prompt/completion/cached token counts of generating routes, and duration.
// Routes that generate record their usage on the request (request.pensieveUsage).

import type { FastifyInstance } from 'fastify';
import type { RequestUsage } from '../engine/request.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by generating routes once the engine finished the request. */
    pensieveUsage: RequestUsage | null;
  }
}

export function registerUsageSlot(app: FastifyInstance): void {
  app.decorateRequest('pensieveUsage', null);
}

export function registerRequestLog(app: FastifyInstance, log: (line: string) => void): void {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    const res = reply.raw;
    // 'close' fires for finished responses, streamed (hijacked) ones and abandoned ones alike.
    res.once('close', () => {
      const ms = (performance.now() - started).toFixed(1);
      const status = res.writableFinished ? String(res.statusCode) : `${res.statusCode}(client gone)`;
      const u = request.pensieveUsage;
      const tokens = u === null ? '' : ` prompt=${u.promptTokens} completion=${u.completionTokens} cached=${u.cachedTokens}`;
      log(`${request.method} ${request.url.split('?')[0]} ${status}${tokens} ${ms}ms`);
    });
    done();
  });
}
