// `pensieve chat`: an interactive multi-turn chat in the terminal. It talks to a
// server (--url) or starts one in-process on a loopback port, and continues the
// conversation with the Responses API's previous_response_id, so each turn
// only computes the new tokens. The session outlives what goes wrong in a turn:
// errors are printed, Ctrl-C stops a reply, and a conversation that outgrows the
// context is resent without its oldest turns (chat-session.ts).
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/client.js';
import { buildServer } from '../server/app.js';
import { Store } from '../store/index.js';
import { firstModel } from './chat-client.js';
import { ChatSession } from './chat-session.js';
import { CliError } from './errors.js';
import { ENGINE_FLAG_HELP, ENGINE_FLAG_SPEC, engineOptions } from './engine-flags.js';
import { numberFlag } from './flags.js';
import { progressBar } from './progress.js';

const HELP = `usage: pensieve chat [--url URL] [options]

  --url URL                    a running Pensieve (or OpenAI-compatible) server, e.g. http://127.0.0.1:8000/v1
  --api-key KEY                its API key
  --system TEXT                instructions for the assistant
  --max-tokens N               per reply (default 256)
  --temperature T              (default 0.7)
Without --url an engine starts in-process:
${ENGINE_FLAG_HELP}
In the chat: /help, /reset (a new conversation), /exit (or Ctrl-D). Ctrl-C stops a reply;
at the prompt, a second Ctrl-C leaves.
`;

export async function runChat(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...ENGINE_FLAG_SPEC,
      url: { type: 'string' },
      'api-key': { type: 'string' },
      system: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const maxTokens = numberFlag(values['max-tokens'], 'max-tokens', { integer: true, min: 1 }) ?? 256;
  const temperature = numberFlag(values.temperature, 'temperature', { min: 0, max: 2 }) ?? 0.7;

  let base = values.url?.replace(/\/$/, '');
  let model = '';
  if (base) {
    try {
      model = await firstModel(base, values['api-key']);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  let cleanup = async () => {};
  if (!base) {
    const options = engineOptions(values);
    const engine = await EngineClient.start(options, {
      onProgress: progressBar('loading'),
      onWarning: (msg) => process.stderr.write(`warning: ${msg}\n`),
    });
    const store = Store.open(options.dataDir);
    const app = buildServer({ engine, store, maxQueuedRequests: 16, logRequests: false });
    base = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1`;
    model = engine.model.id;
    cleanup = async () => {
      await app.close();
      await engine.close();
      store.close();
    };
  }

  const tty = Boolean(process.stdin.isTTY);
  const rl = readline.createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  const session = new ChatSession({
    base,
    apiKey: values['api-key'],
    model,
    instructions: values.system,
    maxOutputTokens: maxTokens,
    temperature,
    write: (text) => process.stdout.write(text),
    exit: () => rl.close(),
  });
  // A terminal's Ctrl-C reaches readline as a key; piped input gets the signal itself.
  const onInterrupt = () => session.interrupt();
  rl.on('SIGINT', onInterrupt);
  process.on('SIGINT', onInterrupt);
  process.stdout.write(`chatting with ${model} at ${base} — /help for commands\n`);
  try {
    // Iterating the interface buffers lines, so piped input is not lost while a reply streams.
    process.stdout.write('> ');
    for await (const line of rl) {
      if (!(await session.onLine(line))) break;
      process.stdout.write('> ');
    }
    process.stdout.write('\n');
  } finally {
    process.off('SIGINT', onInterrupt);
    rl.close();
    await cleanup();
  }
}
