// The HTTP thread's handle on the engine worker: submit a request, get its
// events as an async iterable, abort it. The engine itself runs on a worker
// thread so that a forward pass never blocks the event loop that serves HTTP;
// large prompts are tokenized first on a second thread, the prompt worker, so
// that tokenizing them never blocks the engine loop either.
import type { Worker } from 'node:worker_threads';
import { AsyncQueue } from './async-queue.js';
import type { EngineStats } from './engine.js';
import { LARGE_PROMPT_BYTES, promptBytes } from './prompt.js';
import { PromptThread, type PromptAnswer } from './prompt-thread.js';
import type { EngineWorkerOptions, FromWorker, GenerateRequest, ModelInfo, PromptInput, RequestEvent, ToPromptWorker, ToWorker } from './protocol.js';
import { startWorker } from './worker-thread.js';

/** The engine refused a request up front (bad prompt, too long): the server answers 400. */
export class RequestRejectedError extends Error {
  override readonly name = 'RequestRejectedError';
  constructor(message: string, readonly param: string | null, readonly code: string | null) {
    super(message);
  }
}

export type StreamEvent = Extract<RequestEvent, { type: 'token' | 'finish' | 'error' }>;

export interface RequestHandle {
  readonly id: string;
  /** The prompt (tokens and rendered text) once the engine has queued the request; rejects with RequestRejectedError. */
  readonly accepted: Promise<AcceptedPrompt>;
  /** Token, then finish (or error) events; ends after the last. */
  readonly events: AsyncIterable<StreamEvent>;
  /** Stops generation (a client disconnected); a finish event with reason 'abort' follows. */
  abort(): void;
}

export interface TokenizedPrompt {
  tokens: number[];
  text: string;
  /** Each token's text, when asked for. */
  pieces: string[] | null;
}

export interface AcceptedPrompt {
  tokens: number[];
  text: string;
}

interface Pending {
  queue: AsyncQueue<StreamEvent>;
  accept: (prompt: AcceptedPrompt) => void;
  reject: (err: Error) => void;
}

export interface EngineClientHooks {
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

let nextId = 0;

export class EngineClient {
  private readonly pending = new Map<string, Pending>();
  private readonly statsWaiters = new Map<number, (s: EngineStats) => void>();
  /** Requests whose prompt the prompt worker is tokenizing, and whether their client gave up meanwhile. */
  private readonly tokenizing = new Map<string, { request: Omit<GenerateRequest, 'id'>; aborted: boolean }>();
  /** /tokenize and /detokenize calls waiting for the prompt worker. */
  private readonly lookups = new Map<string, { resolve: (answer: PromptAnswer) => void; reject: (err: Error) => void }>();
  private statsSeq = 0;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly prompts: PromptThread,
    readonly model: ModelInfo,
    private readonly largePromptBytes: number,
  ) {}

  /** Starts the workers and loads the model; resolves once it is ready to serve. */
  static async start(options: EngineWorkerOptions, hooks: EngineClientHooks = {}): Promise<EngineClient> {
    const prompts = PromptThread.start(options);
    prompts.catch(() => {}); // the engine's own load error, if any, is the one to report
    let client: EngineClient;
    try {
      client = await EngineClient.startEngine(options, hooks, prompts);
    } catch (err) {
      void prompts.then((p) => p.close(), () => {});
      throw err;
    }
    return client;
  }

  private static startEngine(options: EngineWorkerOptions, hooks: EngineClientHooks, promptsReady: Promise<PromptThread>): Promise<EngineClient> {
    const worker = startWorker('./engine-worker.ts', options);
    return new Promise((resolve, reject) => {
      const onEarly = (msg: FromWorker) => {
        if (msg.type === 'progress') hooks.onProgress?.(msg.done, msg.total);
        else if (msg.type === 'warning') hooks.onWarning?.(msg.message);
        else if (msg.type === 'fatal') {
          void worker.terminate();
          reject(Object.assign(new Error(msg.message), { name: 'ModelLoadError' }));
        } else if (msg.type === 'ready') {
          worker.off('message', onEarly);
          worker.off('error', reject);
          promptsReady.then(
            (prompts) => {
              const client = new EngineClient(worker, prompts, msg.model, options.largePromptBytes ?? LARGE_PROMPT_BYTES);
              worker.on('message', (m: FromWorker) => client.onMessage(m));
              worker.on('error', (err) => client.failAll(err));
              worker.on('exit', () => client.failAll(new Error('the engine worker exited')));
              prompts.listen((answer) => client.onPromptAnswer(answer), (err) => client.failAll(err));
              resolve(client);
            },
            (err: Error) => {
              void worker.terminate();
              reject(err);
            },
          );
        }
      };
      worker.on('message', onEarly);
      worker.once('error', reject);
    });
  }

  /** Requests submitted and not yet finished. */
  get inFlight(): number {
    return this.pending.size;
  }

  generate(request: Omit<GenerateRequest, 'id'>): RequestHandle {
    const id = `req-${process.pid}-${++nextId}`;
    const queue = new AsyncQueue<StreamEvent>();
    let accept!: (prompt: AcceptedPrompt) => void;
    let reject!: (err: Error) => void;
    const accepted = new Promise<AcceptedPrompt>((res, rej) => {
      accept = res;
      reject = rej;
    });
    accepted.catch(() => {}); // the caller may only read events
    if (this.closed) {
      reject(new Error('the engine is shut down'));
      queue.end();
    } else {
      this.pending.set(id, { queue, accept, reject });
      if (promptBytes(request.prompt) < this.largePromptBytes || request.prompt.kind === 'tokens') {
        this.send({ type: 'generate', request: { ...request, id } });
      } else {
        this.tokenizing.set(id, { request, aborted: false });
        const msg: ToPromptWorker = { type: 'encode', id, prompt: request.prompt, contextLength: this.model.contextLength };
        this.prompts.encode(msg);
      }
    }
    return { id, accepted, events: queue, abort: () => this.abort(id) };
  }

  /**
   * A prompt's tokens as a request would get them (chat messages through the template), on the
   * prompt worker; `contextLength` refuses longer ones. Rejects with RequestRejectedError.
   */
  tokenize(prompt: PromptInput, opts: { pieces: boolean; contextLength: number }): Promise<TokenizedPrompt> {
    return this.lookup({ type: 'encode', id: this.lookupId(), prompt, contextLength: opts.contextLength, pieces: opts.pieces }).then((a) => {
      if (a.type !== 'encoded') throw new Error(`the prompt worker answered ${a.type} to encode`);
      return { tokens: a.tokens, text: a.text, pieces: a.pieces ?? null };
    });
  }

  /** The text of token ids (special tokens included); rejects with RequestRejectedError for ids outside the vocabulary. */
  detokenize(tokens: number[]): Promise<string> {
    return this.lookup({ type: 'decode', id: this.lookupId(), tokens }).then((a) => {
      if (a.type !== 'decoded') throw new Error(`the prompt worker answered ${a.type} to decode`);
      return a.text;
    });
  }

  private lookupId(): string {
    return `lookup-${process.pid}-${++nextId}`;
  }

  private lookup(msg: ToPromptWorker): Promise<PromptAnswer> {
    if (this.closed) return Promise.reject(new Error('the engine is shut down'));
    return new Promise((resolve, reject) => {
      this.lookups.set(msg.id, {
        resolve: (a) => (a.type === 'rejected' ? reject(new RequestRejectedError(a.message, a.param, a.code)) : resolve(a)),
        reject,
      });
      this.prompts.encode(msg);
    });
  }

  private abort(id: string): void {
    const t = this.tokenizing.get(id);
    if (t !== undefined) t.aborted = true;
    else if (this.pending.has(id)) this.send({ type: 'abort', id });
  }

  stats(): Promise<EngineStats> {
    const replyTo = ++this.statsSeq;
    return new Promise((resolve) => {
      this.statsWaiters.set(replyTo, resolve);
      this.send({ type: 'stats', replyTo });
    });
  }

  /**
   * Stops the worker; requests still running end with an error event. The worker first writes
   * the resident KV chunks to the disk tier (and the shared tier, if any: Engine.drain); after
   * `timeoutMs` it is stopped wherever it is
   * (a chunk file is written whole or not at all, so a cut write only loses that chunk).
   */
  async close({ timeoutMs = 2000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise((r) => this.worker.once('exit', r));
    // The shared KV tier's drain gets most of the time, the disk writes and the exit the rest.
    this.send({ type: 'shutdown', drainMs: Math.max(0, timeoutMs - Math.min(500, timeoutMs / 4)) });
    await Promise.race([exited, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    await Promise.all([this.worker.terminate(), this.prompts.close()]);
  }

  private send(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'stats') {
      this.statsWaiters.get(msg.replyTo)?.(msg.stats);
      this.statsWaiters.delete(msg.replyTo);
      return;
    }
    if (msg.type !== 'events') return;
    for (const ev of msg.events) {
      const p = this.pending.get(ev.id);
      if (!p) continue;
      if (ev.type === 'accepted') p.accept({ tokens: ev.promptTokens, text: ev.promptText });
      else if (ev.type === 'rejected') {
        p.reject(new RequestRejectedError(ev.message, ev.param, ev.code));
        p.queue.end();
        this.pending.delete(ev.id);
      } else {
        p.queue.push(ev);
        if (ev.type === 'finish' || ev.type === 'error') {
          p.queue.end();
          this.pending.delete(ev.id);
        }
      }
    }
  }

  /** Times the prompt worker was replaced to give back the memory a large prompt left in it. */
  get promptWorkerRestarts(): number {
    return this.prompts.restarts;
  }

  /** A large prompt came back from the prompt worker: on to the engine as tokens, or refused. */
  private onPromptAnswer(msg: PromptAnswer): void {
    const lookup = this.lookups.get(msg.id);
    if (lookup !== undefined) {
      this.lookups.delete(msg.id);
      lookup.resolve(msg);
      return;
    }
    if (msg.type === 'decoded') return;
    const t = this.tokenizing.get(msg.id);
    const p = this.pending.get(msg.id);
    this.tokenizing.delete(msg.id);
    if (t === undefined || p === undefined) return;
    if (msg.type === 'rejected' || t.aborted) {
      p.reject(msg.type === 'rejected'
        ? new RequestRejectedError(msg.message, msg.param, msg.code)
        : new RequestRejectedError('the client went away while its prompt was tokenized', null, 'client_closed_request'));
      p.queue.end();
      this.pending.delete(msg.id);
      return;
    }
    this.send({ type: 'generate', request: { ...t.request, id: msg.id, prompt: { kind: 'tokenized', tokens: msg.tokens, text: msg.text } } });
  }

  private failAll(err: Error): void {
    this.tokenizing.clear();
    for (const l of this.lookups.values()) l.reject(err);
    this.lookups.clear();
    for (const [id, p] of this.pending) {
      p.reject(err);
      p.queue.push({ type: 'error', id, message: err.message });
      p.queue.end();
    }
    this.pending.clear();
  }
}
