// What a client sees when something goes wrong: every failure, from a malformed body to a bug,
// becomes OpenAI's `{"error": {message, type, param, code}}` with the status OpenAI would use,
// so the official clients raise their usual typed errors (BadRequestError, NotFoundError, ...).
// That holds for fastify's own answers too: errors raised before routing (bad URL encoding, an
// over-long path parameter), before a request exists (malformed HTTP, headers too large), the
// 503 while closing, and the 404/405 of a path no route serves.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { RequestRejectedError } from '../engine/client.js';
import { StoreConflictError, StoreInputError } from '../store/index.js';
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
    /** Headers the answer carries besides the body (Retry-After, Allow). */
    readonly headers: Readonly<Record<string, string>> = {},
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

/** How long a client should wait before retrying a 429 or 503, in seconds (Retry-After). */
export const RETRY_AFTER_S = 1;

export function tooManyRequests(limit: number): ApiError {
  return new ApiError(429, `The server is busy: ${limit} requests are already in flight. Retry shortly.`, 'requests', null, 'rate_limit_exceeded', {
    'retry-after': String(RETRY_AFTER_S),
  });
}

export function serviceUnavailable(message: string, code: string, retryAfterS = RETRY_AFTER_S, headers: Record<string, string> = {}): ApiError {
  return new ApiError(503, message, 'server_error', null, code, { 'retry-after': String(retryAfterS), ...headers });
}

/** Seconds a client should wait before retrying a server that is loading or restarting: a load or a restart takes a few. */
export const RESTART_RETRY_AFTER_S = 5;

export function modelLoading(): ApiError {
  return serviceUnavailable('The model is loading. Retry shortly.', 'model_loading', RESTART_RETRY_AFTER_S);
}

/** The answer to a request that arrives while the server stops: its connection closes after it. */
export function shuttingDown(): ApiError {
  return serviceUnavailable('The server is shutting down. Retry on another instance or shortly.', 'server_shutting_down',
    RESTART_RETRY_AFTER_S, { connection: 'close' });
}

/** A 5xx worth a stack trace: not a 503 that says when to retry (a loading or draining server). */
function isFailure(e: ApiError): boolean {
  return e.status >= 500 && e.headers['retry-after'] === undefined;
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
  // Another replica (or a retry) committed this turn first, or deleted what it continues.
  if (err instanceof StoreConflictError) return new ApiError(409, err.message, 'invalid_request_error', null, 'conflict');
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
    return new ApiError(fe.statusCode, fe.message ?? 'bad request', 'invalid_request_error', null, STATUS_ERROR_CODES[fe.statusCode] ?? null);
  }
  return serverError('The server had an error while processing your request.');
}

/** An error after a stream's headers went out: logged here when it is the server's fault. */
export function streamError(log: { log: (line: string) => void }, err: unknown): ApiError {
  const apiError = toApiError(err);
  if (isFailure(apiError)) log.log(`pensieve: stream failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return apiError;
}

/** A code for fastify's client errors, which carry only a status and fastify's own code. */
const STATUS_ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'unknown_url',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'request_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
};

function send(reply: FastifyReply, e: ApiError): void {
  void reply.status(e.status).headers(e.headers).send(e.body);
}

// Methods a route may serve: a path that some route serves with another method is a 405.
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Registers the error and not-found handlers on the root instance (so they cover every route). */
export function registerErrorHandlers(app: FastifyInstance, log: (line: string) => void): void {
  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err);
    if (isFailure(apiError)) {
      const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`pensieve: ${request.method} ${request.url} failed: ${detail}`);
    }
    // A streaming route has already sent its headers: the stream itself reports its errors.
    if (reply.sent || reply.raw.headersSent) return;
    // fastify closes the connection after any body it could not parse, in case the client is
    // still sending; a body read to its end (a prompt refused for its size, bad JSON) leaves it usable.
    if (apiError.status === 413 || request.raw.complete) drainRejectedBody(request, reply);
    send(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => {
    const where = `${request.method} ${request.url.split('?')[0]}`;
    const allow = METHODS.filter((method) => method !== request.method && app.findRoute({ method, url: request.url }) !== null);
    if (allow.length > 0) {
      send(reply, new ApiError(405, `Method not allowed (${where}); this path takes ${allow.join(', ')}.`, 'invalid_request_error', null, 'method_not_allowed', { allow: allow.join(', ') }));
      return;
    }
    send(reply, notFound(`Invalid URL (${where})`, null, 'unknown_url'));
  });
  // fastify's own 503 while closing has its own body (return503OnClosing is off, see
  // fastifyErrorOptions): requests that still arrive on open connections get ours.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    // Like fastify's: the client should take its next request to a server that is staying
    // (the error says `Connection: close`).
    throw shuttingDown();
  });
}

/**
 * The fastify options that route its answers outside the error handler through toApiError too:
 * errors found while routing (frameworkErrors: bad percent-encoding, a path parameter over
 * maxParamLength), errors before a request exists (clientErrorHandler: malformed HTTP, headers
 * over the size limit, a request timeout), and the 503 while closing (answered by the onRequest
 * hook of registerErrorHandlers instead). `guard` runs first on routing errors, as it would for a
 * routed request: with an API key set, a caller without one gets its 401, never a hint that a
 * path would have matched a route.
 */
export function fastifyErrorOptions(
  guard?: (request: FastifyRequest) => void,
): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler' | 'return503OnClosing'> {
  return {
    return503OnClosing: false,
    frameworkErrors: (err, request, reply) => {
      let apiError: ApiError;
      try {
        guard?.(request);
        apiError = toApiError(err);
      } catch (guardError) {
        apiError = toApiError(guardError);
      }
      send(reply, apiError);
    },
    clientErrorHandler: clientError,
  };
}

/** Node's http parser gave up on the connection before a request existed: answer on the socket itself. */
function clientError(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let message: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    [status, message] = [408, 'The request took too long to arrive.'];
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    [status, message] = [431, 'The request line and headers are larger than the server accepts.'];
  } else {
    [status, message] = [400, `The request is not valid HTTP (${err.code ?? err.message}).`];
  }
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error', null, STATUS_ERROR_CODES[status] ?? null).body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
