// The OpenAI-compatible HTTP server, built by a factory so the CLI and the tests alike start it
// on any port and close it. Cross-cutting parts (error format, auth, request log, metrics) are
// registered first, then the routes, grouped by resource. The caller owns the engine and the
// store: closing the server closes neither. The server can exist (and listen) before the engine
// does: it answers 503 model_loading until the engine is attached to its lifecycle.

import Fastify, { type FastifyInstance } from 'fastify';
import type { EngineClient } from '../engine/client.js';
import { SqliteStore, Store, type ConversationStore } from '../store/index.js';
import { KeyRing, type ApiKey } from './api-keys.js';
import { Authenticator, registerAuth } from './auth.js';
import { defaultMaxRequestBytes, registerBodyLimit } from './body-limit.js';
import { ConversationLock } from './conversation-lock.js';
import { Admission, type ServerContext } from './context.js';
import { fastifyErrorOptions, registerErrorHandlers } from './errors.js';
import { registerJsonBody } from './json-body.js';
import { registerLifecycle, ServerLifecycle } from './lifecycle.js';
import { loggerOptions, requestId, type LogFormat } from './log-format.js';
import { Metrics, metricsRoutes } from './metrics.js';
import { registerReplicaHeader } from './replica.js';
import { registerRequestIdHeader, registerRequestLog, registerUsageSlot } from './request-log.js';
import { chatCompletionsRoutes } from './routes/chat-completions.js';
import { completionsRoutes } from './routes/completions.js';
import { conversationItemsRoutes } from './routes/conversation-items.js';
import { tokenizeRoutes } from './routes/tokenize.js';
import { conversationsRoutes } from './routes/conversations.js';
import { healthRoutes } from './routes/health.js';
import { modelsRoutes } from './routes/models.js';
import { responsesRoutes } from './routes/responses.js';
import { pensieveCacheRoutes } from './routes/pensieve-cache.js';
import { rootRoutes } from './routes/root.js';
import { webRoutes } from './routes/web.js';
import { loadWebAssets } from './web-assets.js';

export interface ServerOptions {
  /** The engine; leave it out to listen while the model loads and attach it to `lifecycle` when ready. */
  engine?: EngineClient;
  /** Loading, serving, draining (see lifecycle.ts); one is made when not given. */
  lifecycle?: ServerLifecycle;
  /** The store; a synchronous SQLite Store is taken as it is (tests, `pensieve chat`). */
  store: Store | ConversationStore;
  /** When set, requests (but /health) must send "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** Several keys, one tenant each (see api-keys.ts); not together with apiKey. */
  apiKeys?: readonly ApiKey[];
  /** Serve /metrics without a key. */
  metricsPublic?: boolean;
  /** Generation requests held at once (running, queued, waiting for their conversation); more get 429. */
  maxQueuedRequests: number;
  /** A log line per request (time, request id, client, method, path, status, tokens, duration). */
  logRequests?: boolean;
  /** How log lines are written when logRequests is on (default text). */
  logFormat?: LogFormat;
  /** Where log lines go; stderr by default. */
  log?: (line: string) => void;
  /** Largest request body (--max-request-bytes); default: what the longest prompt that fits can need. */
  maxRequestBytes?: number;
  /** Names requests may give as `model` (--served-model-name); default: the model's own id. */
  servedModelNames?: readonly string[];
  /** Sent back as X-Pensieve-Replica on every response (--replica-name), to tell replicas apart. */
  replicaName?: string;
}

// fastify's own cap, above any --max-request-bytes: registerBodyLimit enforces the real one,
// which may depend on a model that is still loading when the server starts listening.
const BODY_LIMIT = 2 ** 40;
// Path parameters are ids: ours are 53 characters, a client's item ids may be longer. Past this
// the router answers 414 (fastify's default of 100 would refuse ids the API accepted).
const MAX_PARAM_LENGTH = 1024;

export function buildServer(options: ServerOptions): FastifyInstance {
  const sink = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const keys = KeyRing.from(options.apiKey, options.apiKeys);
  const auth = keys === null ? null : new Authenticator(keys, options.metricsPublic ?? false);
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    genReqId: requestId,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Requests arriving while the server drains get an OpenAI-shaped 503 (lifecycle.ts), not
    // fastify's; routing and client errors are OpenAI-shaped too (fastifyErrorOptions).
    ...fastifyErrorOptions(auth === null ? undefined : (request) => auth.check(request)),
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
    store: options.store instanceof Store ? new SqliteStore(options.store) : options.store,
    metrics: new Metrics(),
    locks: new ConversationLock(),
    admission: new Admission(options.maxQueuedRequests, lifecycle),
    log,
    modelNames: () => (options.servedModelNames?.length ? [...options.servedModelNames] : [lifecycle.engine.model.id]),
  };

  // The API reads JSON only: fastify's default text/plain parser would hand routes a string.
  app.removeContentTypeParser('text/plain');
  registerUsageSlot(app);
  registerRequestIdHeader(app);
  registerReplicaHeader(app, options.replicaName);
  registerErrorHandlers(app, log);
  if (options.logRequests) registerRequestLog(app);
  registerLifecycle(app, lifecycle);
  registerAuth(app, auth);
  let maxRequestBytes = options.maxRequestBytes;
  registerBodyLimit(app, () => (maxRequestBytes ??= defaultMaxRequestBytes(lifecycle.engine.model)));
  registerJsonBody(app, () => lifecycle.engine.model);

  const web = loadWebAssets();
  rootRoutes(app, ctx, web.get('index.html'));
  webRoutes(app, web);
  healthRoutes(app, ctx);
  metricsRoutes(app, ctx.metrics, ctx);
  modelsRoutes(app, ctx);
  chatCompletionsRoutes(app, ctx);
  completionsRoutes(app, ctx);
  responsesRoutes(app, ctx);
  conversationsRoutes(app, ctx);
  conversationItemsRoutes(app, ctx);
  tokenizeRoutes(app, ctx);
  pensieveCacheRoutes(app, ctx);
  return app;
}
