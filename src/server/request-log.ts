// One log line per request, written when the response is done (or the client left): time,
// request id, client address, method, path, status, the prompt/completion/cached token counts
// of generating routes, and duration (see log-format.ts for the two renderings). Routes that
// generate record their usage on the request (request.pensieveUsage). The request id — the
// client's x-request-id when valid, else a new one — is also sent back as x-request-id.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestUsage } from '../engine/request.js';
import type { RequestRecord } from './log-format.js';

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

/** Sends the request id back on every response, streamed ones included (set on the raw response). */
export function registerRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.raw.setHeader('x-request-id', request.id);
    done();
  });
}

export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    const res = reply.raw;
    // 'close' fires for finished responses, streamed (hijacked) ones and abandoned ones alike.
    res.once('close', () => {
      const u = request.pensieveUsage;
      const record: RequestRecord = {
        remote: request.ip,
        method: request.method,
        url: request.url.split('?')[0]!,
        status: res.statusCode,
        ...(res.writableFinished ? {} : { client_gone: true as const }),
        ...(u === null ? {} : { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, cached_tokens: u.cachedTokens }),
        ...(request.pensieveUser === null ? {} : { user: request.pensieveUser }),
        duration_ms: Number((performance.now() - started).toFixed(1)),
      };
      request.log.info(record, 'request');
    });
    done();
  });
}
