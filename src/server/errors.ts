// What a client sees when something goes wrong: every failure, from a malformed body to a bug,
// becomes OpenAI's `{"error": {message, type, param, code}}` with the status OpenAI would use,
// so the official clients raise their usual typed errors (BadRequestError, NotFoundError, ...).

import type { FastifyError, FastifyInstance } from 'fastify';
import { RequestRejectedError } from '../engine/client.js';
import { StoreInputError } from '../store/index.js';
import { drainRejectedBody } from './body-limit.js';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'requests' | 'server_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

/** An error the client caused or must be told about; the error handler turns it into its JSON body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  get body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, code);
}

export function notFound(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(404, message, 'invalid_request_error', param, code);
}

export function modelNotFound(model: string): ApiError {
  return notFound(`The model '${model}' does not exist or you do not have access to it.`, 'model', 'model_not_found');
}

export function conversationNotFound(id: string, param: string | null = null): ApiError {
  return notFound(`Conversation with id '${id}' not found.`, param, 'conversation_not_found');
}

export function tooManyRequests(limit: number): ApiError {
  return new ApiError(429, `The server is busy: ${limit} requests are already in flight. Retry shortly.`, 'requests', null, 'rate_limit_exceeded');
}

/** The client closed the connection before its answer was ready (nginx's 499): nobody reads this. */
export function clientGone(): ApiError {
  return new ApiError(499, 'The client closed the request before it completed.', 'invalid_request_error', null, 'client_closed_request');
}

export function serverError(message: string): ApiError {
  return new ApiError(500, message, 'server_error');
}

/**
 * The engine refused the prompt (too long, bad token ids). Its param names the engine's field;
 * `promptParam` is what the route calls the prompt ('messages', 'input', 'prompt').
 */
export function rejected(err: RequestRejectedError, promptParam: string): ApiError {
  return badRequest(err.message, err.param === null ? null : promptParam, err.code);
}

/** Maps anything thrown in a handler or by fastify itself to an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreInputError) return badRequest(err.message, err.param);
  if (err instanceof RequestRejectedError) return badRequest(err.message, err.param, err.code);
  const fe = err as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ApiError(413, 'The request body is larger than this server accepts (--max-request-bytes).', 'invalid_request_error', null, 'request_too_large');
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError) {
    return badRequest(`We could not parse the JSON body of your request: ${fe.message ?? 'invalid JSON'}`, null, 'invalid_json');
  }
  // fastify's own client errors: unsupported content type (415), body too large (413), ...
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode, fe.message ?? 'bad request', 'invalid_request_error', null, null);
  }
  return serverError('The server had an error while processing your request.');
}

/** An error after a stream's headers went out: logged here when it is the server's fault. */
export function streamError(log: { log: (line: string) => void }, err: unknown): ApiError {
  const apiError = toApiError(err);
  if (apiError.status >= 500) log.log(`pensieve: stream failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return apiError;
}

/** Registers the error and not-found handlers on the root instance (so they cover every route). */
export function registerErrorHandlers(app: FastifyInstance, log: (line: string) => void): void {
  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) {
      const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`pensieve: ${request.method} ${request.url} failed: ${detail}`);
    }
    // A streaming route has already sent its headers: the stream itself reports its errors.
    if (reply.sent || reply.raw.headersSent) return;
    if (apiError.status === 413) drainRejectedBody(request, reply);
    void reply.status(apiError.status).send(apiError.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const e = notFound(`Invalid URL (${request.method} ${request.url.split('?')[0]})`, null, 'unknown_url');
    void reply.status(404).send(e.body);
  });
}
