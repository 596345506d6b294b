// The server's life around its engine: it listens before the model is loaded (answering 503
// "model_loading", as llama-server does, so a load balancer sees it up but not ready), serves
// once the engine is attached, and on shutdown drains: new requests get 503 "shutting down"
// with `Connection: close`, requests in flight run on until the deadline, and then are cut —
// their generations end with a 503 (a plain response) or an error event (a stream).

import type { FastifyInstance } from 'fastify';
import type { EngineClient } from '../engine/client.js';
import { type ApiError, modelLoading, shuttingDown } from './errors.js';

export type Phase = 'loading' | 'ready' | 'draining';

/** What the lifecycle ends at the deadline: a generation in flight (see Generation.cut). */
export interface Cuttable {
  cut(err: ApiError): void;
}

export class ServerLifecycle {
  private attached: EngineClient | null;
  private draining = false;
  private cutAt: ApiError | null = null;
  private readonly running = new Set<Cuttable>();

  constructor(engine: EngineClient | null = null) {
    this.attached = engine;
  }

  get phase(): Phase {
    if (this.draining) return 'draining';
    return this.attached === null ? 'loading' : 'ready';
  }

  /** The engine, or a 503 while the model loads (routes only run once it is attached). */
  get engine(): EngineClient {
    if (this.attached === null) throw modelLoading();
    return this.attached;
  }

  /** Engine requests in flight; 0 while loading. */
  get inFlight(): number {
    return this.attached?.inFlight ?? 0;
  }

  attach(engine: EngineClient): void {
    if (this.attached !== null) throw new Error('an engine is already attached');
    this.attached = engine;
  }

  /** From now on new requests are refused; those in flight go on. */
  beginDrain(): void {
    this.draining = true;
  }

  /** Generations in flight (those a deadline would cut). */
  get generations(): number {
    return this.running.size;
  }

  /** Registers a generation in flight; the returned function unregisters it. */
  track(generation: Cuttable): () => void {
    // A generation that starts after the deadline (it waited for its conversation's previous
    // turn) is cut at once.
    if (this.cutAt !== null) throw this.cutAt;
    this.running.add(generation);
    return () => this.running.delete(generation);
  }

  /** The drain deadline passed: every generation in flight ends now with a 503. */
  cutAll(): number {
    this.cutAt = shuttingDown();
    const n = this.running.size;
    for (const g of this.running) g.cut(this.cutAt);
    this.running.clear();
    return n;
  }
}

/**
 * Answers for the server while it cannot serve: while loading, every route but /health gets 503
 * model_loading; while draining, every request gets 503 with `Connection: close` (it arrived on
 * a kept-alive connection, or pipelined, after the listener closed). Both carry Retry-After.
 */
export function registerLifecycle(app: FastifyInstance, lifecycle: ServerLifecycle): void {
  app.addHook('onRequest', (request, reply, done) => {
    const phase = lifecycle.phase;
    if (phase === 'ready') return done();
    if (phase === 'draining') reply.raw.setHeader('connection', 'close');
    // /health reports the phase itself, as a 503 with a body a probe can read.
    if (request.url === '/health' || request.url.startsWith('/health?')) return done();
    const err = phase === 'loading' ? modelLoading() : shuttingDown();
    void reply.status(err.status).headers(err.headers).send(err.body);
  });
}
