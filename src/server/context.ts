// What every route module is handed: the engine, the store, and the server-wide parts that sit
// between them and HTTP (metrics, per-conversation serialization, the bounded request queue).

import type { EngineClient } from '../engine/client.js';
import type { ConversationStore } from '../store/index.js';
import { ConversationLock } from './conversation-lock.js';
import { modelNotFound, tooManyRequests } from './errors.js';
import type { ServerLifecycle } from './lifecycle.js';
import type { Metrics } from './metrics.js';

/**
 * Bounds the generation requests the server holds (running, queued in the engine, or waiting
 * for their conversation's previous turn): past the limit a request is refused with 429 at once
 * instead of queueing without end.
 */
export class Admission {
  private held = 0;

  constructor(readonly limit: number, private readonly engine: Pick<EngineClient, 'inFlight'>) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`maxQueuedRequests must be a positive integer; got ${limit}`);
  }

  /** Takes a place or throws 429; the returned function gives the place back (call it once). */
  enter(): () => void {
    if (Math.max(this.held, this.engine.inFlight) >= this.limit) throw tooManyRequests(this.limit);
    this.held++;
    let left = false;
    return () => {
      if (!left) this.held--;
      left = true;
    };
  }

  get inFlight(): number {
    return this.held;
  }
}

export interface ServerContext {
  /** The engine once the model is loaded; reading it before throws a 503 (see ServerLifecycle). */
  readonly engine: EngineClient;
  lifecycle: ServerLifecycle;
  store: ConversationStore;
  metrics: Metrics;
  locks: ConversationLock;
  admission: Admission;
  /** Where request lines and server errors go. */
  log: (line: string) => void;
  /** The names the model answers to (--served-model-name, else its id); the first is its main one. */
  modelNames(): string[];
}

/** Requests name the model they want; this server serves exactly one, under one or more names. */
export function checkModel(ctx: ServerContext, model: string): void {
  if (!ctx.modelNames().includes(model)) throw modelNotFound(model);
}

/** Runs a generating request holding a place in the queue for its whole life. */
export async function admitted<T>(ctx: ServerContext, fn: () => Promise<T>): Promise<T> {
  const leave = ctx.admission.enter();
  try {
    return await fn();
  } finally {
    leave();
  }
}
