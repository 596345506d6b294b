// `pensieve chat`: an interactive multi-turn chat in the terminal. It talks to a
// server (--url) or starts one in-process on a loopback port, and continues the
// conversation with the Responses API's previous_response_id, so each turn
// only computes the new tokens.
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/client.js';
import { buildServer } from '../server/app.js';
import { Store } from '../store/index.js';
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
Type /reset to start a new conversation, /exit (or Ctrl-D) to leave.
`;

interface Turn {
  id: string;
  text: string;
}

/** Sends one turn with streaming; prints text as it arrives. */
async function turn(base: string, apiKey: string | undefined, body: Record<string, unknown>, write: (s: string) => void): Promise<Turn> {
  const res = await fetch(`${base}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!res.ok || !res.body) throw new Error(`server answered ${res.status}: ${await res.text()}`);
  let buffer = '';
  let id = '';
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      const data = event.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
      if (!data || data === '[DONE]') continue;
      const ev = JSON.parse(data) as { type: string; delta?: string; response?: { id: string } };
      if (ev.type === 'response.output_text.delta' && ev.delta) {
        text += ev.delta;
        write(ev.delta);
      } else if (ev.response?.id) id = ev.response.id;
    }
  }
  return { id, text };
}

async function firstModel(base: string, apiKey: string | undefined): Promise<string> {
  const res = await fetch(`${base}/models`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  if (!res.ok) throw new Error(`${base}/models answered ${res.status}`);
  const list = (await res.json()) as { data?: { id: string }[] };
  const id = list.data?.[0]?.id;
  if (!id) throw new Error(`${base}/models lists no model`);
  return id;
}

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
  let model = base ? await firstModel(base, values['api-key']) : '';
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
  let previous: string | undefined;
  process.stdout.write(`chatting with ${model} at ${base} — /reset for a new conversation, /exit to leave\n`);
  try {
    // Iterating the interface buffers lines, so piped input is not lost while a reply streams.
    process.stdout.write('> ');
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/exit') break;
      if (line === '/reset') previous = undefined;
      else if (line) {
        const body = { model, input: line, instructions: values.system, previous_response_id: previous, max_output_tokens: maxTokens, temperature };
        const t = await turn(base, values['api-key'], body, (s) => process.stdout.write(s));
        process.stdout.write('\n');
        previous = t.id || undefined;
      }
      process.stdout.write('> ');
    }
    process.stdout.write('\n');
  } finally {
    rl.close();
    await cleanup();
  }
}
