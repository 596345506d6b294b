// The OpenAI-compatible HTTP server, built by a factory so the CLI and the tests alike start it
// on any port and close it. Cross-cutting parts (error format, auth, request log, metrics) are
// registered first, then the routes, grouped by resource. The caller owns the engine and the
// store: closing the server closes neither.

import Fastify, { type FastifyInstance } from 'fastify';
import type { EngineClient } from '../engine/client.js';
import type { Store } from '../store/index.js';
import { KeyRing, type ApiKey } from './api-keys.js';
import { Authenticator, registerAuth } from './auth.js';
import { ConversationLock } from './conversation-lock.js';
import { Admission, type ServerContext } from './context.js';
import { fastifyErrorOptions, registerErrorHandlers } from './errors.js';
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
  /** When set, requests (but /health) must send "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Several keys, one tenant each (see api-keys.ts); not together with apiKey. */
  apiKeys?: readonly ApiKey[];
  /** Serve /metrics without a key. */
  metricsPublic?: boolean;
  /** Generation requests held at once (running, queued, waiting for their conversation); more get 429. */
  maxQueuedRequests: number;
  /** A log line per request (method, path, status, tokens, duration). */
  logRequests?: boolean;
  /** Where log lines go; stderr by default. */
  log?: (line: string) => void;
}

// Conversations resent in full (chat completions) can be long; 1 MiB (fastify's default) is not.
const BODY_LIMIT = 64 * 1024 * 1024;
// Path parameters are ids: ours are 53 characters, a client's item ids may be longer. Past this
// the router answers 414 (fastify's default of 100 would refuse ids the API accepted).
const MAX_PARAM_LENGTH = 1024;

export function buildServer(options: ServerOptions): FastifyInstance {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const keys = KeyRing.from(options.apiKey, options.apiKeys);
  const auth = keys === null ? null : new Authenticator(keys, options.metricsPublic ?? false);
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...fastifyErrorOptions(auth === null ? undefined : (request) => auth.check(request)),
  });
  const ctx: ServerContext = {
    engine: options.engine,
    store: options.store,
    metrics: new Metrics(),
    locks: new ConversationLock(),
    admission: new Admission(options.maxQueuedRequests, options.engine),
    log,
  };

  // The API reads JSON only: fastify's default text/plain parser would hand routes a string.
  app.removeContentTypeParser('text/plain');
  registerUsageSlot(app);
  registerErrorHandlers(app, log);
  if (options.logRequests) registerRequestLog(app, log);
  registerAuth(app, auth);

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
