// `pensieve serve`: the OpenAI-compatible server. Loads the model on the engine
// thread (with a progress bar), opens the store, listens, and shuts down cleanly
// on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/client.js';
import { buildServer } from '../server/app.js';
import { Store } from '../store/index.js';
import { ENGINE_FLAG_HELP, ENGINE_FLAG_SPEC, engineOptions } from './engine-flags.js';
import { serverKeys } from './auth-flags.js';
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
      'api-keys': { type: 'string' },
      'metrics-public': { type: 'boolean', default: false },
      'max-queued-requests': { type: 'string' },
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
  const app = buildServer({ engine, store, ...keys, metricsPublic: values['metrics-public'], maxQueuedRequests, logRequests: true });
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
