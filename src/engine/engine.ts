// The engine: requests in, tokens out, one unified batch per step(). It owns
// the KV cache (memory, lower tiers and bookkeeping), the scheduler and the model
// runner, and knows nothing of HTTP; the worker thread (engine-worker.ts) drives it.
//
// A step, in order: chunks lost to disk errors are dropped from the bookkeeping; the
// scheduler returns the step plan (step-plan.ts): the batch (returning conversations
// swapped in, idle chunks evicted down the tiers to make room, ahead-of-time copies below
// the swap-out threshold) and the chunk transfers all that decided; the transfers run in
// order (host copies now, disk writes started); then the forward pass. Transfers decided
// between steps (a finished or aborted request's released copies) ride in the next plan.
//
// With a shared KV tier (--shared-kv, tiers/shared-tier.ts), a queued request's prompt chunks
// that no local tier holds are fetched from Redis before it is admitted (shared-lookups.ts),
// every chunk written to disk is sent there in the background, and close() drains to it.
import { BLOCK_SIZE, CHUNK_SIZE } from '../cache/chunk-layout.js';
import type { RestoreItem } from '../cache/chunk-tiers.js';
import type { ChunkMeta } from '../cache/chunk-transfer.js';
import { LruPolicy, RetentionPolicy, type ChunkCostFn, type EvictionPolicy } from '../cache/eviction-policy.js';
import { KvCacheManager, type CacheMode, type KvCacheStats } from '../cache/kv-cache-manager.js';
import { KvCache, kvDTypeForWeights, type KvDType } from '../model/kv-cache.js';
import type { LoadedModel } from '../model/load.js';
import { conversationLayouts, type ConversationLayout } from './conversation-layout.js';
import { profileChunkCost, type CostPoint } from './cost-profile.js';
import { Grammars, type GrammarMatcher } from './grammar/matcher.js';
import { SchemaError } from './grammar/schema.js';
import { ModelRunner } from './model-runner.js';
import { EngineRequestError } from './request-error.js';
import { tokenLogprob, type TokenLogprob } from './logprobs.js';
import { Request, type FinishReason, type RequestInput, type RequestUsage, type TierTokens } from './request.js';
import { Scheduler, type SwapInGate } from './scheduler.js';
import { sequenceStep } from './step-plan.js';
import { DiskTier } from './tiers/disk-tier.js';
import { HostTier } from './tiers/host-tier.js';
import { modelFingerprint } from './tiers/model-fingerprint.js';
import { SharedTier, type SharedTierStats } from './tiers/shared-tier.js';
import { TierIo, type TierIoStats } from './tiers/tier-io.js';
import { SharedLookups } from './shared-lookups.js';

export { EngineRequestError };

export type EvictionPolicyName = 'retention' | 'lru';

export interface EngineOptions {
  /** Bytes of KV cache memory (the device tier). */
  kvCacheMemory: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  cacheMode: CacheMode;
  blockSize?: number;
  /**
   * How K/V values are stored. 'auto' (the default): bf16 when the weights are packed as bf16
   * or q8_0 (the precision vLLM and llama.cpp keep KV in for such models, half the memory of
   * f32, so every tier holds twice the tokens), f32 for f32 weights (exact against references).
   */
  kvDType?: KvDType | 'auto';
  /** Bytes of the host tier (pensieve mode); 0 or absent: disabled. */
  kvHostMemory?: number;
  /** Directory of the disk tier (pensieve mode); absent: disabled. */
  kvDiskDir?: string;
  /** Bytes of chunk files the disk tier may hold; 0 or absent: disabled. */
  kvDiskSpace?: number;
  /** Which chunks leave a tier first (default retention: V = Cost(l) / T). */
  eviction?: EvictionPolicyName;
  /** Copy idle chunks down ahead of time while fewer device blocks than this fraction are free (default 0.25). */
  swapOutThreshold?: number;
  /** Ahead-of-time copies per step at most (default 4). */
  swapOutChunksPerStep?: number;
  /** Scheduler budget tokens one swapped-in chunk costs (default 1). */
  restoreChunkCost?: number;
  /** Cost(l) in ms of one chunk at context l; absent: profiled on the model at start-up. */
  chunkCost?: ChunkCostFn;
  /** Milliseconds; the cache's clock (idle times, persisted last use). Default Date.now. */
  clock?: () => number;
  /** Disk tier problems (a corrupt file, a failed write) that the engine survives. */
  warn?: (message: string) => void;
  /**
   * redis://HOST:PORT[/DB] of the KV tier shared by replicas (pensieve mode, with the disk
   * tier, which its chunks pass through); absent: none. See tiers/shared-tier.ts.
   */
  sharedKv?: string;
  /** Milliseconds a request waits for the shared tier's answer before it computes instead (default 2000). */
  sharedKvTimeoutMs?: number;
  /** Chunk writes queued for the shared tier at most (default 4096); past it the lowest-value ones are dropped. */
  sharedKvQueue?: number;
  /**
   * vLLM's --max-model-len: the longest sequence (prompt plus output) a request may reach.
   * Refused when the model's positions or the KV pool cannot hold it; absent, the model's
   * context, capped (with a warning) to what the KV pool holds for one request.
   */
  maxModelLen?: number;
}

export type EngineEvent =
  | { type: 'token'; requestId: string; token: number; text: string; logprobs?: TokenLogprob }
  | { type: 'finish'; requestId: string; reason: FinishReason; text: string; outputTokens: number[]; usage: RequestUsage; stopString: string | null }
  | { type: 'error'; requestId: string; message: string };

/** Capacity and occupancy of one tier, in bytes and chunks. */
export interface TierUsage {
  capacityBytes: number;
  usedBytes: number;
  capacityChunks: number;
  usedChunks: number;
}

export interface StepTime {
  scheduleMs: number;
  transfersMs: number;
  forwardMs: number;
}

export interface EngineStats {
  cache: KvCacheStats;
  /** Where KV lives: occupancy per tier (device counts blocks × block bytes). */
  tiers: { device: TierUsage; host: TierUsage; disk: TierUsage & { directory: string | null } };
  /** Bytes moved between tiers, staging, disk errors. */
  io: TierIoStats;
  /** Prompt tokens reused, by the tier that held them (sum of each request's usage). */
  servedTokens: TierTokens;
  /** The KV tier shared by replicas: lookups, hits, misses, bytes, writes; null when none is configured. */
  shared: SharedTierStats | null;
  /** The eviction policy in force, and the Cost(l) points it was profiled with. */
  eviction: { policy: EvictionPolicyName; costProfile: CostPoint[] };
  waiting: number;
  running: number;
  steps: number;
  /** Prompt rows computed (prefill and recompute), across all requests. */
  promptTokensComputed: number;
  /** Decode rows computed. */
  decodeTokensComputed: number;
  generatedTokens: number;
  /**
   * Where the steps spent their time, ms summed over all steps: planning (scheduler and
   * cache, a restore's bookkeeping included), the tier transfers run before each forward pass
   * (swap-in copies, host swap-outs), and the forward pass with sampling.
   */
  stepTime: StepTime;
  /** Each live conversation's chunks by tier, most recently used first (conversation-layout.ts). */
  conversations: ConversationLayout[];
}


/** Disk operations in flight beyond which no ahead-of-time copy is started. */
const MAX_PENDING_IO = 32;

export class Engine {
  readonly kv: KvCacheManager;
  /** The longest sequence a request may reach: prompts are shorter, generation stops here. */
  readonly maxModelLen: number;
  private readonly memory: KvCache;
  private readonly runner: ModelRunner;
  private readonly scheduler: Scheduler;
  private readonly io: TierIo;
  private readonly costProfile: CostPoint[] = [];
  private readonly requests = new Map<string, Request>();
  private readonly counters = { steps: 0, promptTokensComputed: 0, decodeTokensComputed: 0, generatedTokens: 0 };
  private readonly stepTime: StepTime = { scheduleMs: 0, transfersMs: 0, forwardMs: 0 };
  private readonly served: TierTokens = { device: 0, host: 0, disk: 0, shared: 0 };
  /** The eviction policy (pensieve mode): also what ranks writes to the shared tier. */
  private readonly policy: EvictionPolicy | undefined;
  private readonly shared: SharedTier | null = null;
  private readonly lookups: SharedLookups | null = null;
  /** Compiled response formats and their token masks (the vocabulary index is built on first use). */
  private grammarCache: Grammars | null = null;

  constructor(readonly model: LoadedModel, readonly options: EngineOptions) {
    const blockSize = options.blockSize ?? BLOCK_SIZE;
    const kvDType = resolveKvDType(options.kvDType ?? 'auto', model);
    const numBlocks = KvCache.blocksFor(model.config, options.kvCacheMemory, blockSize, kvDType);
    if (numBlocks < 2) {
      throw new RangeError(`--kv-cache-memory ${options.kvCacheMemory} bytes holds ${numBlocks} blocks; one block takes ${KvCache.bytesPerBlock(model.config, blockSize, kvDType)} bytes`);
    }
    this.memory = new KvCache(model.config, numBlocks, blockSize, kvDType);
    this.maxModelLen = resolveMaxModelLen(options, model.config.maxPositionEmbeddings, numBlocks * blockSize);
    // LongRoPE's short/long set and dynamic NTK are chosen by the context served, as llama.cpp's n_ctx.
    model.transformer.setContextLength(this.maxModelLen);
    this.runner = new ModelRunner(model.transformer, this.memory);
    const pensieve = options.cacheMode === 'pensieve';
    const blocksPerChunk = CHUNK_SIZE / blockSize;
    const chunkBytes = this.memory.gatheredBytes(blocksPerChunk);
    const hostChunks = pensieve ? Math.floor((options.kvHostMemory ?? 0) / chunkBytes) : 0;
    const host = hostChunks > 0 ? new HostTier(this.memory, hostChunks, blocksPerChunk) : null;
    let disk: ReturnType<typeof DiskTier.open> | null = null;
    if (pensieve && options.kvDiskDir !== undefined && (options.kvDiskSpace ?? 0) > 0) {
      const { config: c } = model;
      const layout = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim, blockSize, dtype: kvDType };
      const capacity = Math.floor(options.kvDiskSpace! / DiskTier.slotBytesFor(layout, blocksPerChunk));
      if (capacity > 0) {
        disk = DiskTier.open({
          dir: options.kvDiskDir, capacity, modelId: modelFingerprint(model), layout, blocksPerChunk,
          // Reads' arrays reused after their swap-in, up to a device's worth (the most one restore reads).
          spareBytes: this.memory.gatheredBytes(numBlocks),
        });
      }
    }
    this.kv = new KvCacheManager({
      numBlocks,
      blockSize,
      chunkSize: CHUNK_SIZE,
      mode: options.cacheMode,
      salt: model.id,
      policy: (this.policy = pensieve ? this.evictionPolicy() : undefined),
      tiers: { hostChunks, diskChunks: disk?.tier.options.capacity ?? 0 },
      clock: options.clock,
    });
    this.io = new TierIo(this.memory, host, disk?.tier ?? null, options.warn);
    if (options.sharedKv !== undefined) {
      if (!pensieve) throw new RangeError('--shared-kv needs --cache-mode pensieve');
      if (disk === null) throw new RangeError('--shared-kv needs the disk tier (--kv-disk-space above one chunk): chunks from the shared tier are written there');
      const { modelId, layout } = disk.tier.options;
      const warn = options.warn ?? (() => {});
      this.shared = new SharedTier({ url: options.sharedKv, modelId, layout, timeoutMs: options.sharedKvTimeoutMs, queueChunks: options.sharedKvQueue, warn }, disk.tier);
      this.lookups = new SharedLookups(this.kv, this.io, this.shared, options.clock ?? Date.now);
      // Ahead of time: every chunk written to disk is queued for the shared tier too.
      this.io.onDiskWrite = (slot, meta) => this.shared!.offer({ slot, meta, value: this.shareValue(meta) });
    }
    if (disk !== null) {
      // Chunk files of a previous run wait for their conversations to return.
      for (const p of this.kv.adoptPersisted(disk.scan.persisted)) {
        if (this.kv.lowerSlots('disk').ownerOf(p.slot) === null) void disk.tier.remove(p.slot);
      }
    }
    const gate: SwapInGate = { ready: (items) => this.swapInReady(items), acceptsCopies: () => this.io.pending < MAX_PENDING_IO };
    // With a shared tier, idle chunks go to disk (and so to Redis) as soon as the disk keeps up,
    // not only under memory pressure: a replica that dies without draining has shared them.
    const writeBehind = this.shared === null ? 0 : (options.swapOutChunksPerStep ?? 4);
    this.scheduler = new Scheduler(this.kv, { ...options, writeBehindChunksPerStep: writeBehind }, gate);
  }

  get numBlocks(): number {
    return this.memory.numBlocks;
  }

  get kvDType(): KvDType {
    return this.memory.dtype;
  }

  /** Queues a request; throws EngineRequestError for one that can never run. */
  add(input: RequestInput): void {
    if (this.requests.has(input.id)) throw new EngineRequestError(`duplicate request id ${input.id}`);
    const prompt = input.promptTokens.length;
    if (prompt === 0) throw new EngineRequestError('the prompt is empty', 'messages');
    if (prompt >= this.maxModelLen) {
      throw new EngineRequestError(
        `the prompt has ${prompt} tokens; this server's context window is ${this.maxModelLen} tokens (prompt and reply together)`,
        'messages', 'context_length_exceeded');
    }
    const blocks = Math.ceil((prompt + 1) / this.memory.blockSize);
    if (blocks > this.memory.numBlocks) {
      throw new EngineRequestError(
        `the prompt has ${prompt} tokens; the KV cache holds ${this.memory.numBlocks * this.memory.blockSize}`, 'messages', 'context_length_exceeded');
    }
    const request = new Request(input, this.model.tokenizer, this.model.stopIds, this.grammarFor(input));
    this.requests.set(input.id, request);
    this.scheduler.add(request);
    // Prefetch: disk reads of the prompt's chunks start now, while others compute.
    this.swapInReady(this.kv.prepareRequest(input.id, input.promptTokens, input.conversationId));
    // What no local tier holds is asked of the shared tier; the request waits for the answer.
    this.lookups?.start(request);
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

  /**
   * Between requests, with a shared tier: copies idle chunks to disk (and so to Redis), a few
   * at a time as the disk keeps up, as steps do while serving. True while some may be left:
   * the worker comes back shortly instead of sleeping until the next request.
   */
  writeBehind(): boolean {
    const more = this.scheduler.writeBehind();
    this.io.execute(this.kv.takeTransfers());
    return more;
  }

  /**
   * When the last step could schedule nothing because disk reads are in flight: a
   * promise for them to land (the worker waits on it instead of spinning).
   */
  ioWait(): Promise<void> | null {
    if (this.scheduler.waitingOnIo === 0 || this.scheduler.running.length > 0) return null;
    if ((this.lookups?.pending ?? 0) === 0) return this.io.readsLanded();
    // Only what is in flight: a promise resolved already would spin the loop past the socket.
    return this.io.reading ? Promise.race([this.lookups!.nextAnswer(), this.io.readsLanded()]) : this.lookups!.nextAnswer();
  }

  /**
   * Drain (issue 17): copies idle chains' device and host chunks to the disk tier (as many
   * as it holds, most valuable first), then, with a shared tier, sends every full chunk the
   * disk holds there (those it has already are skipped) and waits until they are in, or
   * `deadlineMs` pass. True when everything was sent; what was not is recomputed by
   * whichever replica gets the conversation.
   */
  async drain({ deadlineMs }: { deadlineMs: number }): Promise<boolean> {
    if (this.kv.mode === 'pensieve') this.kv.persistAll();
    this.io.execute(this.kv.takeTransfers());
    if (this.shared === null) return true;
    const deadline = performance.now() + deadlineMs;
    for (const { slot, meta } of this.kv.diskChunksToShare()) this.shared.offer({ slot, meta, value: this.shareValue(meta) });
    return this.shared.writesDone(deadline);
  }

  /**
   * Before exiting: copies the conversations' device and host chunks to the disk tier (as
   * many as it holds, most valuable first) and waits for every disk write to land, so a
   * restart finds them; with a shared tier, drains to it first (for at most
   * `sharedDrainMs`). `persist: false` only waits for the disk.
   */
  async close({ persist = true, sharedDrainMs = 10_000 }: { persist?: boolean; sharedDrainMs?: number } = {}): Promise<void> {
    this.lookups?.close();
    if (persist && this.shared !== null) {
      await this.drain({ deadlineMs: sharedDrainMs });
    } else {
      if (persist && this.kv.mode === 'pensieve') this.kv.persistAll();
      this.io.execute(this.kv.takeTransfers());
    }
    await this.io.idle();
    await this.shared?.close();
  }

  /** Runs one forward pass over everything scheduled; returns what happened to each request. */
  step(): EngineEvent[] {
    for (const { tier, slot } of this.io.takeLost()) this.kv.lostChunk(tier, slot);
    const t0 = performance.now();
    const plan = this.scheduler.schedule();
    const t1 = performance.now();
    this.io.execute(plan.transfers);
    const t2 = performance.now();
    this.stepTime.scheduleMs += t1 - t0;
    this.stepTime.transfersMs += t2 - t1;
    const scheduled = plan.batch;
    if (scheduled.length === 0) return this.scheduler.waitingOnIo > 0 ? [] : this.failUnschedulable();
    this.counters.steps++;
    const logits = this.runner.step(scheduled.map(sequenceStep));

    const events: EngineEvent[] = [];
    scheduled.forEach(({ request, slots, sample }, i) => {
      const n = slots.positions.length;
      this.kv.markComputed(request.id, n);
      request.computedThrough = Math.max(request.computedThrough, slots.contextLength);
      // The newest sampled token rides in the step that samples again; every other row is prompt
      // (recomputed generated tokens included, after a preemption), however the rows are chunked.
      const promptRows = sample && request.outputTokens.length > 0 ? n - 1 : n;
      request.computedPromptTokens += promptRows;
      this.counters.promptTokensComputed += promptRows;
      this.counters.decodeTokensComputed += n - promptRows;
      if (sample) events.push(...this.sampleNext(request, logits[i]!));
    });
    this.stepTime.forwardMs += performance.now() - t2;
    return events;
  }

  stats(): EngineStats {
    const cache = this.kv.stats();
    const t = cache.tiers;
    const blockBytes = this.memory.gatheredBytes(1);
    const chunkBytes = this.memory.gatheredBytes(CHUNK_SIZE / this.memory.blockSize);
    const disk = this.io.disk;
    return {
      cache,
      tiers: {
        device: {
          capacityBytes: cache.numBlocks * blockBytes,
          usedBytes: cache.usedBlocks * blockBytes,
          capacityChunks: Math.floor(cache.numBlocks / (CHUNK_SIZE / this.memory.blockSize)),
          usedChunks: Math.ceil(cache.usedBlocks / (CHUNK_SIZE / this.memory.blockSize)),
        },
        host: {
          capacityBytes: t.hostCapacityChunks * chunkBytes,
          usedBytes: t.hostUsedChunks * chunkBytes,
          capacityChunks: t.hostCapacityChunks,
          usedChunks: t.hostUsedChunks,
        },
        disk: {
          capacityBytes: disk === null ? 0 : t.diskCapacityChunks * disk.slotBytes,
          usedBytes: disk?.bytesOnDisk ?? 0,
          capacityChunks: t.diskCapacityChunks,
          usedChunks: t.diskUsedChunks,
          directory: disk?.dir ?? null,
        },
      },
      io: this.io.stats(),
      servedTokens: { ...this.served },
      shared: this.shared?.stats() ?? null,
      eviction: { policy: this.options.eviction ?? 'retention', costProfile: this.costProfile },
      waiting: this.scheduler.waiting.length,
      running: this.scheduler.running.length,
      ...this.counters,
      stepTime: { ...this.stepTime },
      conversations: conversationLayouts(this.kv),
    };
  }

  /** The matcher factory of a request with a response format (the HTTP side has checked the schema already). */
  private grammarFor(input: RequestInput): ((stopIds: ReadonlySet<number>) => GrammarMatcher) | undefined {
    const format = input.responseFormat;
    if (format === undefined) return undefined;
    const grammars = (this.grammarCache ??= new Grammars(this.model.tokenizer, this.model.config.vocabSize));
    return (stopIds) => {
      try {
        return grammars.matcher(format, stopIds);
      } catch (err) {
        if (err instanceof SchemaError) {
          const param = format.type === 'tool_calls' ? 'tools' : 'response_format';
          throw new EngineRequestError(`${param}: ${err.message}`, param, 'unsupported_parameter');
        }
        throw err;
      }
    };
  }

  private sampleNext(request: Request, logits: Float32Array): EngineEvent[] {
    const grammar = request.grammar;
    if (grammar !== null) {
      let more: boolean;
      try {
        more = grammar.canContinue(); // computes the mask the sampler applies next
      } catch (err) {
        return this.fail(request, (err as Error).message);
      }
      // The value is complete and nothing may follow: end here, whatever end-of-sequence's logit.
      if (!more && grammar.accepting) return [this.finish(request, 'stop')];
      if (!more) return this.fail(request, 'no token of this vocabulary can continue the response format\'s grammar');
    }
    const token = request.sampler.sample(logits, this.runner.argmax);
    const now = performance.now();
    request.firstTokenAt ??= now;
    request.lastTokenAt = now;
    if (request.stopTokenIds.has(token)) return [this.finish(request, 'stop')];
    if (grammar !== null) {
      try {
        grammar.accept(token);
      } catch (err) {
        // A grammar bug must end its own request, not the engine step of every other one.
        return this.fail(request, (err as Error).message);
      }
    }
    request.outputTokens.push(token);
    request.sampler.accept(token);
    this.kv.appendToken(request.id, token);
    this.counters.generatedTokens++;
    const text = request.output.push(token);
    const event: EngineEvent = { type: 'token', requestId: request.id, token, text };
    if (request.logprobs !== null) event.logprobs = tokenLogprob(this.model.tokenizer, logits, token, request.logprobs);
    const events: EngineEvent[] = [event];
    const length = request.promptTokens.length + request.outputTokens.length;
    if (request.output.stoppedBy !== null) events.push(this.finish(request, 'stop'));
    else if (request.outputTokens.length >= request.maxTokens || length >= this.maxModelLen) {
      events.push(this.finish(request, 'length'));
    }
    return events;
  }

  /** Ends a running request with an error event (its KV is released as for any finish). */
  private fail(request: Request, problem: string): EngineEvent[] {
    this.finish(request, 'abort');
    return [{ type: 'error', requestId: request.id, message: `request ${request.id}: ${problem}` }];
  }

  /** The eviction policy; profiles Cost(l) on the model unless it was given. */
  private evictionPolicy(): EvictionPolicy {
    if (this.options.eviction === 'lru') return new LruPolicy();
    let cost = this.options.chunkCost;
    if (cost === undefined) {
      const profile = profileChunkCost(this.runner, { chunkSize: CHUNK_SIZE, maxContext: this.model.config.maxPositionEmbeddings - 1 });
      this.costProfile.push(...profile.points);
      cost = profile.cost;
    }
    return new RetentionPolicy(cost, CHUNK_SIZE);
  }

  /** A chunk's retention value now, from the identity a disk write records: what ranks shared-tier writes. */
  private shareValue(meta: ChunkMeta): number {
    const idleMs = Math.max(0, (this.options.clock ?? Date.now)() - meta.lastAccess);
    const candidate = { conversationId: meta.conversationId, chunkIndex: meta.chunkIndex, contextLength: meta.chunkIndex * CHUNK_SIZE, numTokens: meta.numTokens, idleMs };
    return this.policy?.retentionValue(candidate) ?? 0;
  }

  /** Whether the items' bytes can be copied to device now; starts the reads they wait on. */
  private swapInReady(items: readonly RestoreItem[]): boolean {
    let ready = true;
    for (const it of items) if (!this.io.ready(it.tier, it.slot, it.meta)) ready = false;
    return ready;
  }

  private finish(request: Request, reason: FinishReason): EngineEvent {
    if (this.scheduler.remove(request)) this.kv.finishRequest(request.id);
    else this.kv.abandonRequest(request.id);
    if (request.cachedByTier !== null) {
      this.served.device += request.cachedByTier.device;
      this.served.host += request.cachedByTier.host;
      this.served.disk += request.cachedByTier.disk;
      this.served.shared += request.cachedByTier.shared;
    }
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

/**
 * The context a request may use. A pool that cannot hold one request of the model's whole
 * context would fail such a request mid-way (a 500 where vLLM refuses to start): an explicit
 * limit past the pool is refused here, the default is capped to the pool with a warning.
 */
export function resolveMaxModelLen(options: Pick<EngineOptions, 'maxModelLen' | 'warn'>, modelLen: number, poolTokens: number): number {
  const asked = options.maxModelLen;
  if (asked !== undefined) {
    if (!Number.isInteger(asked) || asked < 2) throw new RangeError(`--max-model-len must be an integer of at least 2; got ${asked}`);
    if (asked > modelLen) throw new RangeError(`--max-model-len ${asked} is more than the model's context of ${modelLen} positions`);
    if (asked > poolTokens) {
      throw new RangeError(
        `--max-model-len ${asked} does not fit the KV cache: --kv-cache-memory holds ${poolTokens} tokens. ` +
          `Raise --kv-cache-memory or lower --max-model-len to at most ${poolTokens}`);
    }
    return asked;
  }
  if (modelLen <= poolTokens) return modelLen;
  options.warn?.(
    `the KV cache holds ${poolTokens} tokens, less than the model's context of ${modelLen}: ` +
      `serving with a context of ${poolTokens} tokens (set --max-model-len, or raise --kv-cache-memory)`);
  return poolTokens;
}

/** The KV dtype 'auto' stands for, by how the model's weights are packed. */
export function resolveKvDType(kvDType: KvDType | 'auto', model: LoadedModel): KvDType {
  if (kvDType !== 'auto') return kvDType;
  return kvDTypeForWeights(model.transformer.weights.layers[0]?.wqkv.parts[0]?.w.dtype ?? 'f32');
}
