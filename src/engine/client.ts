// The HTTP thread's handle on the engine worker: submit a request, get its
// events as an async iterable, abort it. The engine itself runs on a worker
// thread so that a forward pass never blocks the event loop that serves HTTP.
import { Worker } from 'node:worker_threads';
import { AsyncQueue } from './async-queue.js';
import type { EngineStats } from './engine.js';
import type { EngineWorkerOptions, FromWorker, GenerateRequest, ModelInfo, RequestEvent, ToWorker } from './protocol.js';

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
  private statsSeq = 0;
  private closed = false;

  private constructor(private readonly worker: Worker, readonly model: ModelInfo) {}

  /** Starts the worker and loads the model; resolves once it is ready to serve. */
  static start(options: EngineWorkerOptions, hooks: EngineClientHooks = {}): Promise<EngineClient> {
    // The worker runs TypeScript too: it registers tsx's loader before importing the
    // engine (both resolved from here, so any working directory works).
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    const entry = JSON.stringify(new URL('./engine-worker.ts', import.meta.url).href);
    const worker = new Worker(`import(${tsx}).then((m) => { m.register(); return import(${entry}); })`, {
      eval: true,
      workerData: options,
    });
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
          const client = new EngineClient(worker, msg.model);
          worker.on('message', (m: FromWorker) => client.onMessage(m));
          worker.on('error', (err) => client.failAll(err));
          worker.on('exit', () => client.failAll(new Error('the engine worker exited')));
          resolve(client);
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
      this.send({ type: 'generate', request: { ...request, id } });
    }
    return { id, accepted, events: queue, abort: () => this.pending.has(id) && this.send({ type: 'abort', id }) };
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
   * the resident KV chunks to the disk tier; after `timeoutMs` it is stopped wherever it is
   * (a chunk file is written whole or not at all, so a cut write only loses that chunk).
   */
  async close({ timeoutMs = 2000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.send({ type: 'shutdown' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    await this.worker.terminate();
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

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      p.reject(err);
      p.queue.push({ type: 'error', id, message: err.message });
      p.queue.end();
    }
    this.pending.clear();
  }
}
