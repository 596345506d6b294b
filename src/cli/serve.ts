// `pensieve serve`: the OpenAI-compatible server. Opens the store and listens at once (answering
// 503 model_loading until the model is ready), loads the model on the engine thread with
// visible progress, then serves. SIGINT/SIGTERM drain it (server/drain.ts) within
// --shutdown-timeout and write the resident KV to the disk tier; a second signal exits at once.
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/client.js';
import { buildServer } from '../server/app.js';
import { ConnectionTracker } from '../server/connections.js';
import { drainServer } from '../server/drain.js';
import { ServerLifecycle } from '../server/lifecycle.js';
import { LOG_FORMATS, type LogFormat } from '../server/log-format.js';
import { REPLICA_NAME } from '../server/replica.js';
import { openStore, storeLocationFromFlag, type ConversationStore } from '../store/index.js';
import { ENGINE_FLAG_HELP, ENGINE_FLAG_SPEC, engineOptions, parseBytes } from './engine-flags.js';
import { serverKeys } from './auth-flags.js';
import { CliError } from './errors.js';
import { numberFlag } from './flags.js';
import { progressBar } from './progress.js';

const HELP = `usage: pensieve serve [options]

${ENGINE_FLAG_HELP}  --host HOST                  (default 127.0.0.1)
  --port PORT                  (default 8000)
  --api-key KEY                require "Authorization: Bearer KEY" (or set PENSIEVE_API_KEY)
  --api-keys FILE              several keys, one tenant each: a line is "KEY [NAME]", # comments;
                               a tenant's conversations and responses are 404s to the others
  --metrics-public             serve /metrics without a key (/health never needs one)
  --max-queued-requests N      requests in flight before answering 429 (default 256)
  --shutdown-timeout SECONDS   on SIGINT/SIGTERM, how long requests in flight may finish
                               before they are ended with an error (default 30)
  --log-format text|json       request log lines: readable text, or one JSON object per line
                               (default: text when stderr is a terminal, json otherwise)
  --max-request-bytes BYTES    largest request body, e.g. 16M (default: what the longest prompt that
                               fits the context can take as JSON, plus 4 MiB); larger is a 413
  --served-model-name NAME     the name requests give as "model" (repeat it, or NAME,NAME, for
                               aliases; replies echo the name used); default: the model file's id
  --store URL                  where conversations and responses live: "sqlite" (default: the
                               file in --data-dir) or postgres://USER:PASS@HOST/DB, shared by replicas
  --replica-name NAME          sent back as X-Pensieve-Replica on every response, to tell the
                               replicas behind a load balancer apart (pensieve cluster sets it)
`;

/** At least this long is given to writing the KV cache to disk, however late the drain ended. */
const MIN_PERSIST_MS = 2000;

/** Exit status for a second signal, as a shell reports a process killed by it (128 + number). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function logFormatFlag(value: string | undefined): LogFormat {
  if (value === undefined) return process.stderr.isTTY ? 'text' : 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new CliError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got '${value}'`);
  return value as LogFormat;
}

/** --served-model-name values, each possibly a comma-separated list; none: undefined. */
export function servedNames(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((n) => n.trim());
  if (names.some((n) => n === '')) throw new CliError('--served-model-name needs a non-empty name');
  return [...new Set(names)];
}

export async function runServe(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...ENGINE_FLAG_SPEC,
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8000' },
      'api-key': { type: 'string' },
      'api-keys': { type: 'string' },
      'metrics-public': { type: 'boolean', default: false },
      'max-queued-requests': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      store: { type: 'string' },
      'log-format': { type: 'string' },
      'max-request-bytes': { type: 'string' },
      'served-model-name': { type: 'string', multiple: true },
      'replica-name': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const options = engineOptions(values);
  const port = numberFlag(values.port, 'port', { integer: true, min: 0, max: 65535 })!;
  const maxQueuedRequests = numberFlag(values['max-queued-requests'], 'max-queued-requests', { integer: true, min: 1 }) ?? 256;
  const keys = serverKeys({ apiKey: values['api-key'], apiKeysFile: values['api-keys'] }, process.env);
  const shutdownTimeoutMs = (numberFlag(values['shutdown-timeout'], 'shutdown-timeout', { min: 0 }) ?? 30) * 1000;
  const logFormat = logFormatFlag(values['log-format']);
  const maxRequestBytes = values['max-request-bytes'] === undefined ? undefined : parseBytes(values['max-request-bytes'], 'max-request-bytes');
  const replicaName = values['replica-name'];
  if (replicaName !== undefined && !REPLICA_NAME.test(replicaName)) throw new CliError(`--replica-name must be 1-64 of A-Z a-z 0-9 . _ -, got '${replicaName}'`);

  let store: ConversationStore;
  try {
    store = await openStore(storeLocationFromFlag(values.store, options.dataDir));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const lifecycle = new ServerLifecycle();
  const servedModelNames = servedNames(values['served-model-name']);
  const app = buildServer({ lifecycle, store, ...keys, metricsPublic: values['metrics-public'], maxQueuedRequests, maxRequestBytes, logRequests: true, logFormat, servedModelNames, replicaName });
  const connections = new ConnectionTracker(app.server);
  let address: string;
  try {
    address = await app.listen({ host: values.host, port });
  } catch (err) {
    await store.close();
    throw err;
  }

  // Signal handlers go in before anything is announced: whoever reads it may signal at once.
  let engine: EngineClient | null = null;
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`pensieve: ${signal} during shutdown: exiting now\n`);
      process.exit(SIGNAL_EXIT[signal] ?? 1);
    }
    stopping = true;
    const deadline = performance.now() + shutdownTimeoutMs;
    process.stderr.write(`pensieve: ${signal}: shutting down (requests in flight have ${shutdownTimeoutMs / 1000} s; ${signal} again to exit now)\n`);
    const report = await drainServer(app, lifecycle, connections, deadline);
    if (report.cut > 0) process.stderr.write(`pensieve: ended ${report.cut} request(s) still running at the deadline\n`);
    // The engine writes its resident KV chunks to the disk tier (a restart finds them), in
    // what is left of the deadline.
    await engine?.close({ timeoutMs: Math.max(MIN_PERSIST_MS, deadline - performance.now()) });
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', (s) => void shutdown(s));
  process.on('SIGTERM', (s) => void shutdown(s));

  process.stderr.write(`pensieve: listening on ${address}, loading the model (requests get 503 until it is ready)\n`);
  try {
    engine = await EngineClient.start(options, {
      onProgress: progressBar('loading'),
      onWarning: (msg) => process.stderr.write(`warning: ${msg}\n`),
    });
  } catch (err) {
    await app.close();
    await store.close();
    throw err;
  }
  // A signal during the load: the drain is under way; the engine only has to close.
  if (stopping) return;
  lifecycle.attach(engine);
  const m = engine.model;
  process.stderr.write(
    `pensieve: serving '${m.id}' at ${address}/v1 — cache mode ${options.cacheMode}, ` +
      `${m.kvCacheBlocks} KV blocks (${m.kvCacheBlocks * m.blockSize} tokens, ${m.kvDType}), context ${m.contextLength}, data in ${options.dataDir}\n`,
  );
}
