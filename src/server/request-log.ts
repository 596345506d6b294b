// One log line per request, written when the response is done (or the client left): method,
// path, status, the prompt/completion/cached token counts of generating routes, and duration.
// Routes that generate record their usage on the request (request.pensieveUsage).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestUsage } from '../engine/request.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by generating routes once the engine finished the request. */
    pensieveUsage: RequestUsage | null;
    /** The client's end user (OpenAI's `user` / `safety_identifier`), logged with the request. */
    pensieveUser: string | null;
  }
}

export function registerUsageSlot(app: FastifyInstance): void {
  app.decorateRequest('pensieveUsage', null);
  app.decorateRequest('pensieveUser', null);
}

/** Records who the request is for; the log line carries it. */
export function setRequestUser(request: FastifyRequest, user: string | null | undefined): void {
  if (user !== undefined && user !== null && user !== '') request.pensieveUser = user;
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
      // JSON-quoted: a user string cannot break the line or forge another field.
      const user = request.pensieveUser === null ? '' : ` user=${JSON.stringify(request.pensieveUser)}`;
      log(`${request.method} ${request.url.split('?')[0]} ${status}${tokens}${user} ${ms}ms`);
    });
    done();
  });
}
