// The OpenAI-compatible HTTP server, built by a factory so the CLI and the tests alike start it
// on any port and close it. Cross-cutting parts (error format, auth, request log, metrics) are
// registered first, then the routes, grouped by resource. The caller owns the engine and the
// store: closing the server closes neither. The server can exist (and listen) before the engine
// does: it answers 503 model_loading until the engine is attached to its lifecycle.

import Fastify, { type FastifyInstance } from 'fastify';
import type { EngineClient } from '../engine/client.js';
import type { Store } from '../store/index.js';
import { registerAuth } from './auth.js';
import { ConversationLock } from './conversation-lock.js';
import { Admission, type ServerContext } from './context.js';
import { registerErrorHandlers } from './errors.js';
import { registerLifecycle, ServerLifecycle } from './lifecycle.js';
import { loggerOptions, requestId, type LogFormat } from './log-format.js';
import { Metrics, metricsRoutes } from './metrics.js';
import { registerRequestIdHeader, registerRequestLog, registerUsageSlot } from './request-log.js';
import { chatCompletionsRoutes } from './routes/chat-completions.js';
import { completionsRoutes } from './routes/completions.js';
import { conversationItemsRoutes } from './routes/conversation-items.js';
import { conversationsRoutes } from './routes/conversations.js';
import { healthRoutes } from './routes/health.js';
import { modelsRoutes } from './routes/models.js';
import { responsesRoutes } from './routes/responses.js';

export interface ServerOptions {
  /** The engine; leave it out to listen while the model loads and attach it to `lifecycle` when ready. */
  engine?: EngineClient;
  /** Loading, serving, draining (see lifecycle.ts); one is made when not given. */
  lifecycle?: ServerLifecycle;
  store: Store;
  /** When set, /v1 requests must send "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Generation requests held at once (running, queued, waiting for their conversation); more get 429. */
  maxQueuedRequests: number;
  /** A log line per request (time, request id, client, method, path, status, tokens, duration). */
  logRequests?: boolean;
  /** How log lines are written when logRequests is on (default text). */
  logFormat?: LogFormat;
  /** Where log lines go; stderr by default. */
  log?: (line: string) => void;
}

// Conversations resent in full (chat completions) can be long; 1 MiB (fastify's default) is not.
const BODY_LIMIT = 64 * 1024 * 1024;

export function buildServer(options: ServerOptions): FastifyInstance {
  const sink = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    genReqId: requestId,
    // Requests arriving while the server drains get lifecycle.ts's OpenAI-shaped 503, not fastify's.
    return503OnClosing: false,
    ...(options.logRequests ? loggerOptions(options.logFormat ?? 'text', sink) : { logger: false }),
  });
  // Server errors go through the logger when there is one, so they carry a time too.
  const log = options.logRequests ? (line: string) => app.log.error(line) : sink;
  const lifecycle = options.lifecycle ?? new ServerLifecycle();
  if (options.engine !== undefined) lifecycle.attach(options.engine);
  const ctx: ServerContext = {
    get engine() {
      return lifecycle.engine;
    },
    lifecycle,
    store: options.store,
    metrics: new Metrics(),
    locks: new ConversationLock(),
    admission: new Admission(options.maxQueuedRequests, lifecycle),
    log,
  };

  registerUsageSlot(app);
  registerRequestIdHeader(app);
  registerErrorHandlers(app, log);
  if (options.logRequests) registerRequestLog(app);
  registerLifecycle(app, lifecycle);
  if (options.apiKey !== undefined && options.apiKey !== '') registerAuth(app, options.apiKey);

  healthRoutes(app, ctx);
  metricsRoutes(app, ctx.metrics, ctx);
  modelsRoutes(app, ctx);
  chatCompletionsRoutes(app, ctx);
  completionsRoutes(app, ctx);
  responsesRoutes(app, ctx);
  conversationsRoutes(app, ctx);
  conversationItemsRoutes(app, ctx);
  return app;
}
