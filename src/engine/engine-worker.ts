// The engine's thread: loads the model, turns small prompts into tokens (large ones
// come tokenized by the prompt worker), and runs engine steps back to back while
// there is work, sleeping otherwise. Between steps it yields to its event loop so
// new requests and aborts get in, and disk reads and the shared KV tier's replies land.
import { templateReasons, toolSyntaxOf } from '../model/tool-syntax.js';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { loadModel, readChatTemplateFile, type LoadedModel } from '../model/load.js';
import { maxInputBytesPerToken } from '../model/tokenizer/token-bound.js';
import { Engine, type EngineEvent } from './engine.js';
import { buildPrompt, type PromptModel } from './prompt.js';
import type { EngineWorkerOptions, FromWorker, RequestEvent, ToWorker } from './protocol.js';

const port = parentPort!;
const options = workerData as EngineWorkerOptions;
const post = (msg: FromWorker) => port.postMessage(msg);

let wake: (() => void) | null = null;
let shuttingDown = false;
/** What the shutdown message allows the shared KV tier's drain (Engine.close's default when absent). */
let drainMs: number | undefined;
const inbox: ToWorker[] = [];
/** Between write-behind rounds while idle: long enough for the disk writes just queued to land. */
const WRITE_BEHIND_PAUSE_MS = 10;

function handle(engine: Engine, promptModel: PromptModel, msg: ToWorker, out: RequestEvent[]): void {
  if (msg.type === 'generate') {
    const req = msg.request;
    try {
      const prompt = buildPrompt(promptModel, req.prompt, engine.maxModelLen);
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
    drainMs = msg.drainMs;
  }
}

function toRequestEvent(ev: EngineEvent): RequestEvent {
  const { requestId, ...rest } = ev;
  return { ...rest, id: requestId } as RequestEvent;
}

async function main(): Promise<void> {
  let model: LoadedModel;
  let engine: Engine;
  let promptModel: PromptModel;
  try {
    model = await loadModel(options.model, {
      tokenizer: options.tokenizer,
      weightFormat: options.weightFormat,
      threads: options.threads,
      onProgress: (done, total) => post({ type: 'progress', done, total }),
      warn: (message) => post({ type: 'warning', message }),
    });
    if (options.chatTemplate) model.chatTemplate = readChatTemplateFile(options.chatTemplate);
    engine = new Engine(model, { ...options, warn: (message) => post({ type: 'warning', message }) });
    promptModel = {
      tokenizer: model.tokenizer,
      chatTemplate: model.chatTemplate,
      vocabSize: model.config.vocabSize,
      maxBytesPerToken: maxInputBytesPerToken(model.tokenizer),
    };
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
      toolSyntax: toolSyntaxOf(model.chatTemplate)?.name ?? null,
      reasons: templateReasons(model.chatTemplate),
      kvCacheBlocks: engine.numBlocks,
      kvDType: engine.kvDType,
      blockSize: engine.kv.blockSize,
      maxInputBytesPerToken: promptModel.maxBytesPerToken,
    },
  });

  while (!shuttingDown) {
    const events: RequestEvent[] = [];
    while (inbox.length > 0) handle(engine, promptModel, inbox.shift()!, events);
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
    else if (inbox.length === 0 && !shuttingDown) {
      // Idle: write-behind to the shared tier, if any is left, before sleeping until a request.
      const more = engine.writeBehind();
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (more) setTimeout(resolve, WRITE_BEHIND_PAUSE_MS);
      });
    }
    wake = null;
  }
  // Disk tier writes in flight land before exit, so a restart finds them; with a shared KV
  // tier the resident chunks go there too, so another replica finds them.
  await engine.close({ sharedDrainMs: drainMs });
  port.close();
}

await main();
