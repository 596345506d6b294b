// The engine: requests in, tokens out, one unified batch per step(). It owns
// the KV cache (memory and bookkeeping), the scheduler and the model runner,
// and knows nothing of HTTP; the worker thread (engine-worker.ts) drives it.
import { KvCacheManager, type CacheMode, type KvCacheStats } from '../cache/kv-cache-manager.js';
import { KvCache } from '../model/kv-cache.js';
import type { LoadedModel } from '../model/load.js';
import { ModelRunner, type SequenceStep } from './model-runner.js';
import { Request, type FinishReason, type RequestInput, type RequestUsage } from './request.js';
import { Scheduler } from './scheduler.js';

export interface EngineOptions {
  /** Bytes of KV cache memory (the device tier). */
  kvCacheMemory: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  cacheMode: CacheMode;
  blockSize?: number;
}

export type EngineEvent =
  | { type: 'token'; requestId: string; token: number; text: string }
  | { type: 'finish'; requestId: string; reason: FinishReason; text: string; outputTokens: number[]; usage: RequestUsage; stopString: string | null }
  | { type: 'error'; requestId: string; message: string };

export interface EngineStats {
  cache: KvCacheStats;
  waiting: number;
  running: number;
  steps: number;
  /** Prompt rows computed (prefill and recompute), across all requests. */
  promptTokensComputed: number;
  /** Decode rows computed. */
  decodeTokensComputed: number;
  generatedTokens: number;
}

/** A request the engine refuses up front (the server answers 400). */
export class EngineRequestError extends Error {
  override readonly name = 'EngineRequestError';
  constructor(message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
  }
}

export class Engine {
  readonly kv: KvCacheManager;
  private readonly memory: KvCache;
  private readonly runner: ModelRunner;
  private readonly scheduler: Scheduler;
  private readonly requests = new Map<string, Request>();
  private readonly counters = { steps: 0, promptTokensComputed: 0, decodeTokensComputed: 0, generatedTokens: 0 };

  constructor(readonly model: LoadedModel, readonly options: EngineOptions) {
    const blockSize = options.blockSize ?? 16;
    const numBlocks = KvCache.blocksFor(model.config, options.kvCacheMemory, blockSize);
    if (numBlocks < 2) {
      throw new RangeError(`--kv-cache-memory ${options.kvCacheMemory} bytes holds ${numBlocks} blocks; one block takes ${KvCache.bytesPerBlock(model.config, blockSize)} bytes`);
    }
    this.memory = new KvCache(model.config, numBlocks, blockSize);
    this.kv = new KvCacheManager({ numBlocks, blockSize, mode: options.cacheMode, salt: model.id });
    this.runner = new ModelRunner(model.transformer, this.memory);
    this.scheduler = new Scheduler(this.kv, options);
  }

  get numBlocks(): number {
    return this.memory.numBlocks;
  }

  /** Queues a request; throws EngineRequestError for one that can never run. */
  add(input: RequestInput): void {
    if (this.requests.has(input.id)) throw new EngineRequestError(`duplicate request id ${input.id}`);
    const { maxPositionEmbeddings } = this.model.config;
    const prompt = input.promptTokens.length;
    if (prompt === 0) throw new EngineRequestError('the prompt is empty', 'messages');
    if (prompt >= maxPositionEmbeddings) {
      throw new EngineRequestError(
        `the prompt has ${prompt} tokens; this model's context window is ${maxPositionEmbeddings} tokens`, 'messages', 'context_length_exceeded');
    }
    const blocks = Math.ceil((prompt + 1) / this.memory.blockSize);
    if (blocks > this.memory.numBlocks) {
      throw new EngineRequestError(
        `the prompt has ${prompt} tokens; the KV cache holds ${this.memory.numBlocks * this.memory.blockSize}`, 'messages', 'context_length_exceeded');
    }
    const request = new Request(input, this.model.tokenizer, this.model.stopIds);
    this.requests.set(input.id, request);
    this.scheduler.add(request);
  }

  /** Stops a request (client gone); its finish event comes from this call. */
  abort(requestId: string): EngineEvent[] {
    const request = this.requests.get(requestId);
    if (!request) return [];
    return [this.finish(request, 'abort')];
  }

  hasWork(): boolean {
    return this.scheduler.hasWork();
  }

  /** Runs one forward pass over everything scheduled; returns what happened to each request. */
  step(): EngineEvent[] {
    const scheduled = this.scheduler.schedule();
    if (scheduled.length === 0) return this.failUnschedulable();
    this.counters.steps++;
    const seqs: SequenceStep[] = scheduled.map(({ request, slots, sample }) => ({
      tokens: slots.tokenIds,
      positions: slots.positions,
      blockTable: this.kv.blockTable(request.id).slice(0, Math.ceil(slots.contextLength / this.memory.blockSize)),
      contextLen: slots.contextLength,
      logits: sample ? 'last' : 'none',
    }));
    const logits = this.runner.step(seqs);

    const events: EngineEvent[] = [];
    scheduled.forEach(({ request, slots, sample }, i) => {
      const n = slots.positions.length;
      this.kv.markComputed(request.id, n);
      const promptRows = request.outputTokens.length === 0 ? n : n - 1;
      request.computedPromptTokens += promptRows;
      this.counters.promptTokensComputed += promptRows;
      this.counters.decodeTokensComputed += n - promptRows;
      if (sample) events.push(...this.sampleNext(request, logits[i]!));
    });
    return events;
  }

  stats(): EngineStats {
    return {
      cache: this.kv.stats(),
      waiting: this.scheduler.waiting.length,
      running: this.scheduler.running.length,
      ...this.counters,
    };
  }

  private sampleNext(request: Request, logits: Float32Array): EngineEvent[] {
    const token = request.sampler.sample(logits);
    const now = performance.now();
    request.firstTokenAt ??= now;
    request.lastTokenAt = now;
    if (request.stopTokenIds.has(token)) return [this.finish(request, 'stop')];
    request.outputTokens.push(token);
    request.sampler.accept(token);
    this.kv.appendToken(request.id, token);
    this.counters.generatedTokens++;
    const text = request.output.push(token);
    const events: EngineEvent[] = [{ type: 'token', requestId: request.id, token, text }];
    const length = request.promptTokens.length + request.outputTokens.length;
    if (request.output.stoppedBy !== null) events.push(this.finish(request, 'stop'));
    else if (request.outputTokens.length >= request.maxTokens || length >= this.model.config.maxPositionEmbeddings) {
      events.push(this.finish(request, 'length'));
    }
    return events;
  }

  private finish(request: Request, reason: FinishReason): EngineEvent {
    if (this.scheduler.remove(request)) this.kv.finishRequest(request.id);
    this.requests.delete(request.id);
    request.status = 'finished';
    const tail = request.output.finish();
    return {
      type: 'finish',
      requestId: request.id,
      reason,
      text: tail,
      outputTokens: request.outputTokens,
      usage: request.usage(),
      stopString: request.output.stoppedBy,
    };
  }

  /** Nothing could be scheduled although requests wait and none runs: the head can never fit. */
  private failUnschedulable(): EngineEvent[] {
    const head = this.scheduler.waiting[0];
    if (!head || this.scheduler.running.length > 0) return [];
    this.scheduler.remove(head);
    this.requests.delete(head.id);
    head.status = 'finished';
    return [{ type: 'error', requestId: head.id, message: `request ${head.id} needs more KV cache than the server has` }];
  }
}
