// The engine's thread: loads the model, turns prompts into tokens, and runs
// engine steps back to back while there is work, sleeping otherwise. Between
// steps it yields to its event loop so new requests and aborts get in.
import * as fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { chatTemplateFromConfig } from '../model/chat-template.js';
import { loadModel, type LoadedModel } from '../model/load.js';
import { chatPrompt, encodeTemplated, type ChatPrompt } from './chat-prompt.js';
import { Engine, EngineRequestError, type EngineEvent } from './engine.js';
import type { EngineWorkerOptions, FromWorker, GenerateRequest, RequestEvent, ToWorker } from './protocol.js';

const port = parentPort!;
const options = workerData as EngineWorkerOptions;
const post = (msg: FromWorker) => port.postMessage(msg);

let wake: (() => void) | null = null;
let shuttingDown = false;
const inbox: ToWorker[] = [];

function readChatTemplate(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  if (!file.endsWith('.json')) return text;
  const template = chatTemplateFromConfig(JSON.parse(text));
  if (template === null) throw new Error(`${file}: no chat_template in this file`);
  return template;
}

function buildPrompt(model: LoadedModel, req: GenerateRequest): ChatPrompt {
  const { prompt } = req;
  switch (prompt.kind) {
    case 'chat':
      return chatPrompt(model, prompt.messages, prompt.history);
    case 'text':
      return { text: prompt.text, tokens: encodeTemplated(model.tokenizer, prompt.text) };
    case 'tokens': {
      const bad = prompt.tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= model.config.vocabSize);
      if (bad !== undefined) throw new EngineRequestError(`token id ${bad} is outside the vocabulary [0, ${model.config.vocabSize})`, 'prompt');
      return { text: model.tokenizer.decode(prompt.tokens, { skipSpecial: false }), tokens: prompt.tokens };
    }
  }
}

function handle(engine: Engine, model: LoadedModel, msg: ToWorker, out: RequestEvent[]): void {
  if (msg.type === 'generate') {
    const req = msg.request;
    try {
      const prompt = buildPrompt(model, req);
      engine.add({ ...req, promptTokens: prompt.tokens });
      out.push({ type: 'accepted', id: req.id, promptTokens: prompt.tokens, promptText: prompt.text });
    } catch (err) {
      const e = err as Error & { param?: string | null; code?: string | null };
      out.push({ type: 'rejected', id: req.id, message: e.message, param: e.param ?? null, code: e.code ?? null });
    }
  } else if (msg.type === 'abort') {
    out.push(...engine.abort(msg.id).map(toRequestEvent));
  } else if (msg.type === 'stats') {
    post({ type: 'stats', replyTo: msg.replyTo, stats: engine.stats() });
  } else {
    shuttingDown = true;
  }
}

function toRequestEvent(ev: EngineEvent): RequestEvent {
  const { requestId, ...rest } = ev;
  return { ...rest, id: requestId } as RequestEvent;
}

async function main(): Promise<void> {
  let model: LoadedModel;
  let engine: Engine;
  try {
    model = await loadModel(options.model, {
      tokenizer: options.tokenizer,
      weightFormat: options.weightFormat,
      threads: options.threads,
      onProgress: (done, total) => post({ type: 'progress', done, total }),
      warn: (message) => post({ type: 'warning', message }),
    });
    if (options.chatTemplate) model.chatTemplate = readChatTemplate(options.chatTemplate);
    engine = new Engine(model, { ...options, warn: (message) => post({ type: 'warning', message }) });
  } catch (err) {
    post({ type: 'fatal', message: (err as Error).message });
    return;
  }
  port.on('message', (msg: ToWorker) => {
    inbox.push(msg);
    wake?.();
  });
  post({
    type: 'ready',
    model: {
      id: model.id,
      source: model.source,
      format: model.format,
      contextLength: engine.maxModelLen,
      vocabSize: model.config.vocabSize,
      hasChatTemplate: model.chatTemplate !== null,
      kvCacheBlocks: engine.numBlocks,
      kvDType: engine.kvDType,
      blockSize: engine.kv.blockSize,
    },
  });

  while (!shuttingDown) {
    const events: RequestEvent[] = [];
    while (inbox.length > 0) handle(engine, model, inbox.shift()!, events);
    if (engine.hasWork()) {
      try {
        events.push(...engine.step().map(toRequestEvent));
      } catch (err) {
        // A bug, not a user error: report it for every request in flight rather than hang them.
        post({ type: 'fatal', message: `engine step failed: ${(err as Error).stack ?? String(err)}` });
        throw err;
      }
    }
    if (events.length > 0) post({ type: 'events', events });
    // Disk reads complete on this thread's event loop, between steps.
    const io = engine.hasWork() ? engine.ioWait() : null;
    if (io !== null && inbox.length === 0) await Promise.race([io, new Promise<void>((resolve) => (wake = resolve))]);
    else if (engine.hasWork()) await yieldToLoop();
    else if (inbox.length === 0 && !shuttingDown) await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
  }
  // Disk tier writes in flight land before exit, so a restart finds them.
  await engine.close();
  port.close();
}

await main();
