// The OpenAI-compatible HTTP server, built by a factory so the CLI and the tests alike start it
// on any port and close it. Cross-cutting parts (error format, auth, request log, metrics) are
// registered first, then the routes, grouped by resource. The caller owns the engine and the
// store: closing the server closes neither.

import Fastify, { type FastifyInstance } from 'fastify';
import type { EngineClient } from '../engine/client.js';
import type { Store } from '../store/index.js';
import { registerAuth } from './auth.js';
import { defaultMaxRequestBytes } from './body-limit.js';
import { ConversationLock } from './conversation-lock.js';
import { Admission, type ServerContext } from './context.js';
import { registerErrorHandlers } from './errors.js';
import { Metrics, metricsRoutes } from './metrics.js';
import { registerRequestLog, registerUsageSlot } from './request-log.js';
import { chatCompletionsRoutes } from './routes/chat-completions.js';
import { completionsRoutes } from './routes/completions.js';
import { conversationItemsRoutes } from './routes/conversation-items.js';
import { conversationsRoutes } from './routes/conversations.js';
import { healthRoutes } from './routes/health.js';
import { modelsRoutes } from './routes/models.js';
import { responsesRoutes } from './routes/responses.js';

export interface ServerOptions {
  engine: EngineClient;
  store: Store;
  /** When set, /v1 requests must send "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Generation requests held at once (running, queued, waiting for their conversation); more get 429. */
  maxQueuedRequests: number;
  /** A log line per request (method, path, status, tokens, duration). */
  logRequests?: boolean;
  /** Where log lines go; stderr by default. */
  log?: (line: string) => void;
  /** Largest request body (--max-request-bytes); default: what the longest prompt that fits can need. */
  maxRequestBytes?: number;
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bodyLimit = options.maxRequestBytes ?? defaultMaxRequestBytes(options.engine.model);
  const app = Fastify({ logger: false, bodyLimit });
  const ctx: ServerContext = {
    engine: options.engine,
    store: options.store,
    metrics: new Metrics(),
    locks: new ConversationLock(),
    admission: new Admission(options.maxQueuedRequests, options.engine),
    log,
  };

  registerUsageSlot(app);
  registerErrorHandlers(app, log);
  if (options.logRequests) registerRequestLog(app, log);
  if (options.apiKey !== undefined && options.apiKey !== '') registerAuth(app, options.apiKey);

  healthRoutes(app, ctx);
  metricsRoutes(app, ctx.metrics, ctx.engine);
  modelsRoutes(app, ctx);
  chatCompletionsRoutes(app, ctx);
  completionsRoutes(app, ctx);
  responsesRoutes(app, ctx);
  conversationsRoutes(app, ctx);
  conversationItemsRoutes(app, ctx);
  return app;
}
