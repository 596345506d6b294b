// Decides what runs in each engine step (one unified batch): first the running
// requests — one decode token each, or their next prefill chunk — then waiting
// requests admitted first come, first served, all under a token budget
// (max_num_batched_tokens) and a sequence budget (max_num_seqs). When blocks run
// out, the newest running request is preempted: the cache keeps what it can of
// its state and the request is computed again later, never lost.
//
// Restore work counts in the budget: recomputed tokens are tokens like any other, and
// each chunk swapped in from a lower tier costs `restoreChunkCost` tokens. Every request
// is matched against the chunk store, conversation or not (KvCacheManager.prepareRequest). A request
// whose chunks are still being read from disk, or asked of the shared tier, waits without
// holding up the queue.
//
// The result is the step plan (step-plan.ts): the batch and every chunk transfer the cache
// decided for it, ahead-of-time swap-out included (below the threshold of free device
// blocks, in a step that swaps nothing in: both would contend for the same copy bandwidth).
import type { RestoreItem } from '../cache/chunk-tiers.js';
import type { KvCacheManager } from '../cache/kv-cache-manager.js';
import type { Request } from './request.js';
import type { ScheduledRequest, StepPlan } from './step-plan.js';

export interface SchedulerConfig {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  /** Budget tokens one swapped-in chunk costs (default 1). */
  restoreChunkCost?: number;
  /** Copy idle chunks down ahead of time while fewer device blocks than this fraction are free (default 0.25). */
  swapOutThreshold?: number;
  /** Ahead-of-time copies per step at most (default 4). */
  swapOutChunksPerStep?: number;
  /**
   * Idle chunks copied to disk per step, whatever the free space (default 0: off). On with a
   * KV tier shared by replicas, which mirrors the disk: a replica killed without a drain has
   * shared its idle conversations already.
   */
  writeBehindChunksPerStep?: number;
}

/** The side of the engine that moves chunk bytes: tells whether a swap-in can happen now. */
export interface SwapInGate {
  /** Starts reading what is not in memory yet; true when every item can be swapped in now. */
  ready(items: readonly RestoreItem[]): boolean;
  /** Whether the lower tiers take new ahead-of-time copies now (a disk that cannot keep up does not). */
  acceptsCopies(): boolean;
}

const ALWAYS_READY: SwapInGate = { ready: () => true, acceptsCopies: () => true };

export class Scheduler {
  readonly waiting: Request[] = [];
  readonly running: Request[] = [];
  /** Conversations with a running request: their next request waits its turn. */
  private readonly busy = new Set<string>();

  /** Requests skipped in the last schedule() because their disk reads were in flight. */
  waitingOnIo = 0;

  constructor(
    private readonly kv: KvCacheManager,
    private readonly config: SchedulerConfig,
    private readonly gate: SwapInGate = ALWAYS_READY,
  ) {}

  add(request: Request): void {
    // A queued request's conversation stays resident until it is admitted.
    this.pin(request);
    this.waiting.push(request);
  }

  /** Takes a request out of the queues; true if it was running (the caller finishes it in the cache). */
  remove(request: Request): boolean {
    const w = this.waiting.indexOf(request);
    if (w >= 0) {
      this.waiting.splice(w, 1);
      this.unpin(request);
      return false;
    }
    const r = this.running.indexOf(request);
    if (r < 0) return false;
    this.running.splice(r, 1);
    if (request.conversationId !== null) this.busy.delete(request.conversationId);
    return true;
  }

  hasWork(): boolean {
    return this.waiting.length > 0 || this.running.length > 0;
  }

  /** The next step's plan: its batch, and the transfers to run before it. */
  schedule(): StepPlan {
    const batch = this.pickBatch();
    const transfers = this.kv.takeTransfers();
    if (this.kv.mode === 'pensieve' && !transfers.some((t) => t.op === 'load') && this.gate.acceptsCopies()) {
      this.kv.swapOutAhead(this.config.swapOutThreshold ?? 0.25, this.config.swapOutChunksPerStep ?? 4);
      this.writeBehind();
      transfers.push(...this.kv.takeTransfers());
    }
    return { transfers, batch };
  }

  /**
   * Write-behind (on with a shared tier): at most `writeBehindChunksPerStep` idle chunks
   * copied to disk, most valuable first; their transfers wait in the cache's outbox. True
   * while some may be left (the disk is busy, or the limit was reached).
   */
  writeBehind(): boolean {
    const max = this.config.writeBehindChunksPerStep ?? 0;
    if (max === 0) return false;
    if (!this.gate.acceptsCopies()) return true;
    return this.kv.persistIdle(max) === max;
  }

  private pickBatch(): ScheduledRequest[] {
    const out: ScheduledRequest[] = [];
    let budget = this.config.maxNumBatchedTokens;

    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const request = this.running[i]!;
      const pending = this.kv.sequence(request.id)!.numPending;
      const n = Math.min(pending, budget);
      while (!this.kv.canAllocate(request.id, n)) {
        const victim = this.running[this.running.length - 1]!;
        this.preempt(victim);
        if (victim === request) break;
      }
      if (request.status !== 'running') break;
      const slots = this.kv.allocateSlots(request.id, n);
      if (slots === null) throw new Error(`scheduler: ${request.id} could not get the blocks it was promised`);
      out.push({ request, slots, sample: n === pending });
      budget -= n;
    }

    this.waitingOnIo = 0;
    const chunkCost = this.config.restoreChunkCost ?? 1;
    for (let at = 0; at < this.waiting.length && budget > 0 && this.running.length < this.config.maxNumSeqs; ) {
      const request = this.waiting[at]!;
      const conv = request.conversationId;
      if (conv !== null && this.busy.has(conv)) {
        at++;
        continue;
      }
      if (request.awaitingSharedTier) {
        // The shared tier is asked for its chunks (bounded by a timeout): the next goes ahead.
        this.waitingOnIo++;
        at++;
        continue;
      }
      const tokens = request.allTokens();
      const items = this.kv.prepareRequest(request.id, tokens, conv);
      if (!this.gate.ready(items)) {
        // Its disk reads are in flight: the next request goes ahead meanwhile.
        this.waitingOnIo++;
        at++;
        continue;
      }
      const restoreCost = items.length * chunkCost;
      if (restoreCost >= budget && out.length > 0) break; // next step, with a whole budget
      const restored = this.restore(request, items);
      if (restored === null) break;
      budget = Math.max(1, budget - restoreCost);
      const match = this.kv.beginRequest(request.id, tokens, conv, request.computedThrough);
      this.unpin(request);
      const pending = this.kv.sequence(request.id)!.numPending;
      const n = Math.min(pending, budget);
      if (!this.kv.canAllocate(request.id, n) && !(this.running.length === 0 && this.unpinQueued(request, n))) {
        // Undo the admission and wait for running requests to free blocks (FCFS: nobody overtakes).
        this.kv.cancelRequest(request.id);
        break;
      }
      this.waiting.splice(at, 1);
      this.running.push(request);
      request.status = 'running';
      if (request.conversationId !== null) this.busy.add(request.conversationId);
      if (request.cachedTokens === null) {
        request.cachedTokens = match.numCachedTokens;
        const swapped = (from: (it: RestoreItem) => boolean) => restored.filter(from).reduce((n, it) => n + it.reusedTokens, 0);
        const host = Math.min(swapped((it) => it.tier === 'host'), match.numCachedTokens);
        const shared = Math.min(swapped((it) => it.fromSharedTier === true), match.numCachedTokens - host);
        const disk = Math.min(swapped((it) => it.tier === 'disk' && it.fromSharedTier !== true), match.numCachedTokens - host - shared);
        request.cachedByTier = { device: match.numCachedTokens - host - shared - disk, host, disk, shared };
      }
      request.recomputedTokens += match.numRecomputedTokens;
      const slots = this.kv.allocateSlots(request.id, n)!;
      out.push({ request, slots, sample: n === pending });
      budget -= n;
    }
    return out;
  }

  /**
   * Swaps a request's lower-tier chunks in before it begins; returns those swapped in, or
   * null when its own chain's do not fit. When they do not fit and nothing runs, queued
   * conversations give up their pins, newest first.
   */
  private restore(request: Request, items: readonly RestoreItem[]): RestoreItem[] | null {
    if (items.length === 0) return [];
    const restored = this.kv.restore(items);
    if (restored !== null || this.running.length > 0) return restored;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const r = this.waiting[i]!;
      if (r === request || !r.holdsPin) continue;
      this.unpin(r);
      const again = this.kv.restore(items);
      if (again !== null) return again;
    }
    return null;
  }

  /**
   * A preempted request's state goes back to its conversation unpinned: it is what
   * eviction may take first, and the request recomputes whatever is gone.
   */
  private preempt(request: Request): void {
    this.kv.preempt(request.id);
    this.running.splice(this.running.indexOf(request), 1);
    if (request.conversationId !== null) this.busy.delete(request.conversationId);
    request.status = 'waiting';
    this.waiting.unshift(request);
  }

  /**
   * Nothing runs and the head still does not fit: the queued conversations' pinned
   * state is all that is left to evict. Unpins from the back of the queue (the
   * latest arrivals lose their cache first) until the head fits.
   */
  private unpinQueued(head: Request, numTokens: number): boolean {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const r = this.waiting[i]!;
      if (r === head || !r.holdsPin) continue;
      this.unpin(r);
      if (this.kv.canAllocate(head.id, numTokens)) return true;
    }
    return false;
  }

  private pin(request: Request): void {
    if (request.conversationId === null || request.holdsPin) return;
    this.kv.pinConversation(request.conversationId);
    request.holdsPin = true;
  }

  private unpin(request: Request): void {
    if (request.conversationId === null || !request.holdsPin) return;
    this.kv.unpinConversation(request.conversationId);
    request.holdsPin = false;
  }
}
