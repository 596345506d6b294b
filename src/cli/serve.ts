// `pensieve serve`: the OpenAI-compatible server. Loads the model on the engine
// thread (with a progress bar), opens the store, listens, and shuts down cleanly
// on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/client.js';
import { buildServer } from '../server/app.js';
import { Store } from '../store/index.js';
import { ENGINE_FLAG_HELP, ENGINE_FLAG_SPEC, engineOptions, parseBytes } from './engine-flags.js';
import { numberFlag } from './flags.js';
import { progressBar } from './progress.js';

const HELP = `usage: pensieve serve [options]

${ENGINE_FLAG_HELP}  --host HOST                  (default 127.0.0.1)
  --port PORT                  (default 8000)
  --api-key KEY                require "Authorization: Bearer KEY"
  --max-queued-requests N      requests in flight before answering 429 (default 256)
  --max-request-bytes BYTES    largest request body, e.g. 16M (default: what the longest prompt that
                               fits the context can take as JSON, plus 4 MiB); larger is a 413
`;

export async function runServe(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...ENGINE_FLAG_SPEC,
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8000' },
      'api-key': { type: 'string' },
      'max-queued-requests': { type: 'string' },
      'max-request-bytes': { type: 'string' },
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
  const apiKey = values['api-key'] ?? process.env.PENSIEVE_API_KEY;
  const maxRequestBytes = values['max-request-bytes'] === undefined ? undefined : parseBytes(values['max-request-bytes'], 'max-request-bytes');

  const store = Store.open(options.dataDir);
  let engine: EngineClient;
  try {
    engine = await EngineClient.start(options, {
      onProgress: progressBar('loading'),
      onWarning: (msg) => process.stderr.write(`warning: ${msg}\n`),
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const app = buildServer({ engine, store, apiKey, maxQueuedRequests, maxRequestBytes, logRequests: true });
  const address = await app.listen({ host: values.host, port });
  // Signal handlers go in before the address is announced: whoever reads it may signal at once.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`pensieve: ${signal}: shutting down\n`);
    await app.close();
    await engine.close();
    store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  const m = engine.model;
  process.stderr.write(
    `pensieve: serving '${m.id}' at ${address}/v1 — cache mode ${options.cacheMode}, ` +
      `${m.kvCacheBlocks} KV blocks (${m.kvCacheBlocks * m.blockSize} tokens, ${m.kvDType}), context ${m.contextLength}, data in ${options.dataDir}\n`,
  );
}
