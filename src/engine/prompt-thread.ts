// The prompt worker as the EngineClient holds it: one thread that tokenizes large prompts, and
// that is replaced once a job has left its heap much larger than it was when loaded. V8 gives a
// heap's pages back only at a full GC, and an idle thread runs none: after tokenizing megabytes
// (a paste the token-count bound could not refuse: vocabularies with 100-byte tokens make that
// bound weak) the worker would hold a few hundred MB for good. Ending the thread frees its whole
// heap at once. The replacement loads in the background while the old thread keeps serving; once
// it is ready, new prompts go to it and the old one ends when its last prompt is answered.

import type { Worker } from 'node:worker_threads';
import type { EngineWorkerOptions, FromPromptWorker, ToPromptWorker } from './protocol.js';
import { startWorker } from './worker-thread.js';

/** How far a prompt worker's heap may grow past its loaded size before the worker is replaced. */
export const PROMPT_WORKER_HEAP_GROWTH = 64 << 20;

export type PromptAnswer = Extract<FromPromptWorker, { type: 'encoded' | 'decoded' | 'rejected' }>;

interface Thread {
  worker: Worker;
  /** Heap and external bytes once its tokenizer was loaded. */
  loadedBytes: number;
  /** Prompts sent and not yet answered. */
  inFlight: number;
  /** Replaced: ends when its last prompt is answered. */
  retired: boolean;
}

/** Resolves once the thread's tokenizer is loaded. */
function ready(worker: Worker): Promise<Thread> {
  return new Promise((resolve, reject) => {
    const onEarly = (msg: FromPromptWorker) => {
      if (msg.type === 'fatal') {
        void worker.terminate();
        reject(Object.assign(new Error(msg.message), { name: 'ModelLoadError' }));
      } else if (msg.type === 'ready') {
        worker.off('message', onEarly);
        worker.off('error', reject);
        resolve({ worker, loadedBytes: msg.heapBytes, inFlight: 0, retired: false });
      }
    };
    worker.on('message', onEarly);
    worker.once('error', reject);
  });
}

export class PromptThread {
  /** Replacements made so far (a large job grew the heap past the limit). */
  restarts = 0;
  private starting: Worker | null = null;
  private readonly retired = new Set<Thread>();
  private closed = false;
  private onAnswer: (answer: PromptAnswer) => void = () => {};
  private onFailure: (err: Error) => void = () => {};

  private constructor(
    private current: Thread,
    private readonly options: EngineWorkerOptions,
    private readonly heapGrowth: number,
  ) {
    this.attach(current);
  }

  /** Starts the thread; resolves once its tokenizer is loaded. */
  static async start(options: EngineWorkerOptions): Promise<PromptThread> {
    const thread = await ready(startWorker('./prompt-worker.ts', options));
    return new PromptThread(thread, options, options.promptWorkerHeapGrowth ?? PROMPT_WORKER_HEAP_GROWTH);
  }

  /** Where answers go, and a thread's failure (the requests it held cannot be answered). */
  listen(onAnswer: (answer: PromptAnswer) => void, onFailure: (err: Error) => void): void {
    this.onAnswer = onAnswer;
    this.onFailure = onFailure;
  }

  encode(msg: ToPromptWorker): void {
    this.current.inFlight++;
    this.current.worker.postMessage(msg);
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = [this.current.worker, ...[...this.retired].map((t) => t.worker), ...(this.starting ? [this.starting] : [])];
    await Promise.all(threads.map((w) => w.terminate()));
  }

  private attach(t: Thread): void {
    t.worker.on('message', (msg: FromPromptWorker) => {
      if (msg.type !== 'encoded' && msg.type !== 'decoded' && msg.type !== 'rejected') return;
      t.inFlight--;
      this.onAnswer(msg);
      if (t.retired) this.endIfIdle(t);
      else if (msg.heapBytes > t.loadedBytes + this.heapGrowth) this.replace();
    });
    t.worker.on('error', (err) => this.onFailure(err));
    t.worker.on('exit', () => {
      if (!t.retired && !this.closed) this.onFailure(new Error('the prompt worker exited'));
    });
  }

  /** Starts a fresh thread; the current one serves until it is ready, and keeps serving if it fails to start. */
  private replace(): void {
    if (this.starting !== null || this.closed) return;
    const worker = startWorker('./prompt-worker.ts', this.options);
    this.starting = worker;
    ready(worker).then(
      (fresh) => {
        this.starting = null;
        if (this.closed) return void worker.terminate();
        const old = this.current;
        old.retired = true;
        this.retired.add(old);
        this.current = fresh;
        this.attach(fresh);
        this.restarts++;
        this.endIfIdle(old);
      },
      () => {
        this.starting = null;
      },
    );
  }

  private endIfIdle(t: Thread): void {
    if (t.inFlight > 0) return;
    this.retired.delete(t);
    void t.worker.terminate();
  }
}
