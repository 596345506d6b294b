// Prometheus metrics (GET /metrics), on a registry of the server's own so two servers in one
// process (tests) never share counters. Names follow vLLM's with a `pensieve_` prefix. Engine
// figures (running/waiting, KV usage, prefix cache, recompute, preemption) are read from the
// engine at scrape time; latencies and token counts are measured here as events arrive.

import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineClient } from '../engine/client.js';
import type { EngineStats } from '../engine/protocol.js';
import type { FinishReason, RequestUsage } from '../engine/request.js';

const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITL_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5];
const E2E_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300];

/** A counter that mirrors a cumulative engine figure: it grows by what the figure grew since the last scrape. */
class MirroredCounter<L extends string = string> {
  private readonly last = new Map<string, number>();
  constructor(readonly counter: Counter<L>) {}

  update(value: number, labels?: Record<L, string>): void {
    const key = labels ? JSON.stringify(labels) : '';
    const last = this.last.get(key);
    // The first update creates the series even at 0, so every label shows on the first scrape.
    const grow = Math.max(0, value - (last ?? 0));
    if (grow > 0 || last === undefined) {
      if (labels) this.counter.inc(labels, grow);
      else this.counter.inc(grow);
    }
    this.last.set(key, value);
  }
}

const TIERS = ['device', 'host', 'disk'] as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly running: Gauge;
  private readonly waiting: Gauge;
  private readonly kvUsage: Gauge;
  private readonly prefixQueries: MirroredCounter;
  private readonly prefixHits: MirroredCounter;
  private readonly recomputed: MirroredCounter;
  private readonly preemptions: MirroredCounter;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly cachedPromptTokens: Counter;
  private readonly success: Counter<'finished_reason'>;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly servedTokens: MirroredCounter<'tier'>;
  private readonly swappedBytes: MirroredCounter<'direction' | 'tier'>;
  private readonly diskErrors: MirroredCounter;
  private readonly tierUsed: Gauge<'tier'>;
  private readonly tierCapacity: Gauge<'tier'>;
  private readonly tierChunks: Gauge<'tier'>;
  private readonly evictedChunks: MirroredCounter;
  private readonly stagingBytes: Gauge;
  private readonly pendingIo: Gauge<'op'>;
  private readonly chunkCost: Gauge<'context_length'>;
  private readonly sharedChunks: MirroredCounter<'result'>;
  private readonly sharedBytes: MirroredCounter<'direction'>;
  private readonly sharedLookups: MirroredCounter<'result'>;
  private readonly sharedWrites: MirroredCounter<'result'>;
  private readonly sharedUp: Gauge;
  private readonly stepSeconds: MirroredCounter<'phase'>;

  constructor() {
    const registers = [this.registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.running = gauge('pensieve_num_requests_running', 'Requests in the engine\'s running batch.');
    this.waiting = gauge('pensieve_num_requests_waiting', 'Requests waiting for admission to the running batch.');
    this.kvUsage = gauge('pensieve_kv_cache_usage_perc', 'Fraction of KV cache blocks in use (1 = full).');
    this.prefixQueries = new MirroredCounter(counter('pensieve_prefix_cache_queries_total', 'Prompt tokens looked up in the KV cache.'));
    this.prefixHits = new MirroredCounter(counter('pensieve_prefix_cache_hits_total', 'Prompt tokens found in the KV cache.'));
    this.recomputed = new MirroredCounter(counter('pensieve_recomputed_tokens_total', 'Tokens whose KV had existed but was computed again.'));
    this.preemptions = new MirroredCounter(counter('pensieve_preemptions_total', 'Requests preempted for lack of KV blocks.'));
    this.promptTokens = counter('pensieve_prompt_tokens_total', 'Prompt tokens of finished requests.');
    this.generationTokens = counter('pensieve_generation_tokens_total', 'Tokens generated.');
    this.cachedPromptTokens = counter('pensieve_prompt_tokens_cached_total', 'Prompt tokens of finished requests whose KV was reused.');
    this.success = new Counter({
      name: 'pensieve_request_success_total',
      help: 'Requests that finished, by reason.',
      labelNames: ['finished_reason'],
      registers,
    });
    this.ttft = new Histogram({ name: 'pensieve_time_to_first_token_seconds', help: 'Time to first token.', buckets: TTFT_BUCKETS, registers });
    this.itl = new Histogram({ name: 'pensieve_inter_token_latency_seconds', help: 'Time between tokens.', buckets: ITL_BUCKETS, registers });
    this.e2e = new Histogram({ name: 'pensieve_e2e_request_latency_seconds', help: 'Request latency, submission to finish.', buckets: E2E_BUCKETS, registers });
    this.servedTokens = new MirroredCounter(new Counter({
      name: 'pensieve_cache_served_tokens_total', help: 'Prompt tokens reused from the KV cache, by the tier that held them.', labelNames: ['tier'], registers,
    }));
    this.swappedBytes = new MirroredCounter(new Counter({
      name: 'pensieve_kv_swapped_bytes_total', help: 'KV bytes copied between the device and a lower tier (out: swap-out, in: swap-in).',
      labelNames: ['direction', 'tier'], registers,
    }));
    this.diskErrors = new MirroredCounter(counter('pensieve_kv_disk_errors_total', 'Disk tier reads or writes that failed, or chunk files that failed their checks.'));
    this.tierUsed = new Gauge({ name: 'pensieve_kv_tier_used_bytes', help: 'KV bytes held per tier.', labelNames: ['tier'], registers });
    this.tierCapacity = new Gauge({ name: 'pensieve_kv_tier_capacity_bytes', help: 'KV capacity per tier (0: disabled).', labelNames: ['tier'], registers });
    this.tierChunks = new Gauge({ name: 'pensieve_kv_tier_chunks', help: '32-token KV chunks held per tier.', labelNames: ['tier'], registers });
    this.evictedChunks = new MirroredCounter(counter('pensieve_kv_evicted_chunks_total', 'Chunks that left the device (to a lower tier, or dropped).'));
    this.stagingBytes = gauge('pensieve_kv_staging_bytes', 'Chunk bytes held in RAM for the disk tier: writes in flight, reads landed and not yet used.');
    this.pendingIo = new Gauge({ name: 'pensieve_kv_disk_pending_ops', help: 'Disk tier reads and writes in flight.', labelNames: ['op'], registers });
    this.chunkCost = new Gauge({
      name: 'pensieve_chunk_recompute_cost_ms',
      help: 'Cost(l): profiled milliseconds to recompute one 32-token chunk after l tokens of context (the retention value\'s numerator).',
      labelNames: ['context_length'],
      registers,
    });
    const labelled = <L extends string>(name: string, help: string, label: L) =>
      new MirroredCounter(new Counter<L>({ name, help, labelNames: [label], registers }));
    this.sharedChunks = labelled('pensieve_kv_shared_chunks_total',
      'Chunks asked of the KV tier shared by replicas, by result (hit: verified and used; miss; corrupt: discarded).', 'result');
    this.sharedBytes = labelled('pensieve_kv_shared_bytes_total', 'Bytes read from and written to the shared KV tier.', 'direction');
    this.sharedLookups = labelled('pensieve_kv_shared_lookups_total', 'Prompts whose missing chunks were asked of the shared KV tier, by outcome.', 'result');
    this.sharedWrites = labelled('pensieve_kv_shared_writes_total',
      'Chunk writes to the shared KV tier, by result (written; skipped: already there; dropped: queue full; stale: slot reused; error).', 'result');
    this.sharedUp = gauge('pensieve_kv_shared_connected', 'Whether the shared KV tier is connected: 1, or 0 (also without --shared-kv).');
    this.stepSeconds = labelled('pensieve_engine_step_seconds_total',
      'Engine step time by phase (schedule: scheduler and cache; transfers: tier copies before the forward pass; forward: the forward pass and sampling).', 'phase');
  }

  observeFirstToken(seconds: number): void {
    this.ttft.observe(seconds);
  }

  observeInterToken(seconds: number): void {
    this.itl.observe(seconds);
  }

  observeFinish(reason: FinishReason, usage: RequestUsage, seconds: number): void {
    this.promptTokens.inc(usage.promptTokens);
    this.generationTokens.inc(usage.completionTokens);
    this.cachedPromptTokens.inc(usage.cachedTokens);
    this.success.inc({ finished_reason: reason });
    this.e2e.observe(seconds);
  }

  updateFromEngine(stats: EngineStats): void {
    this.running.set(stats.running);
    this.waiting.set(stats.waiting);
    this.kvUsage.set(stats.cache.usage);
    this.prefixQueries.update(stats.cache.prefixCacheQueries);
    this.prefixHits.update(stats.cache.prefixCacheHits);
    this.recomputed.update(stats.cache.recomputedTokens);
    this.preemptions.update(stats.cache.preemptions);
    this.servedTokens.update(stats.servedTokens.shared, { tier: 'shared' });
    for (const tier of TIERS) {
      this.servedTokens.update(stats.servedTokens[tier], { tier });
      this.tierUsed.set({ tier }, stats.tiers[tier].usedBytes);
      this.tierCapacity.set({ tier }, stats.tiers[tier].capacityBytes);
      this.tierChunks.set({ tier }, stats.tiers[tier].usedChunks);
    }
    this.evictedChunks.update(stats.cache.evictedChunks);
    this.stagingBytes.set(stats.io.stagingBytes);
    this.pendingIo.set({ op: 'read' }, stats.io.pendingReads);
    this.pendingIo.set({ op: 'write' }, stats.io.pendingWrites);
    for (const p of stats.eviction.costProfile) this.chunkCost.set({ context_length: String(p.contextLength) }, p.ms);
    for (const tier of ['host', 'disk'] as const) {
      this.swappedBytes.update(stats.io.swapOutBytes[tier], { direction: 'out', tier });
      this.swappedBytes.update(stats.io.swapInBytes[tier], { direction: 'in', tier });
    }
    this.diskErrors.update(stats.io.diskErrors);
    this.stepSeconds.update(stats.stepTime.scheduleMs / 1e3, { phase: 'schedule' });
    this.stepSeconds.update(stats.stepTime.transfersMs / 1e3, { phase: 'transfers' });
    this.stepSeconds.update(stats.stepTime.forwardMs / 1e3, { phase: 'forward' });
    const shared = stats.shared;
    if (shared !== null) {
      this.sharedUp.set(shared.connected ? 1 : 0);
      this.sharedChunks.update(shared.hits, { result: 'hit' });
      this.sharedChunks.update(shared.misses - shared.corrupt, { result: 'miss' });
      this.sharedChunks.update(shared.corrupt, { result: 'corrupt' });
      this.sharedBytes.update(shared.readBytes, { direction: 'read' });
      this.sharedBytes.update(shared.writtenBytes, { direction: 'write' });
      this.sharedLookups.update(shared.lookups - shared.lookupTimeouts - shared.lookupErrors, { result: 'answered' });
      this.sharedLookups.update(shared.lookupTimeouts, { result: 'timeout' });
      this.sharedLookups.update(shared.lookupErrors, { result: 'error' });
      this.sharedWrites.update(shared.written, { result: 'written' });
      this.sharedWrites.update(shared.skipped, { result: 'skipped' });
      this.sharedWrites.update(shared.dropped, { result: 'dropped' });
      this.sharedWrites.update(shared.stale, { result: 'stale' });
      this.sharedWrites.update(shared.writeErrors, { result: 'error' });
    }
  }
}

/** GET /metrics in Prometheus text format; not under /v1, so the API key does not guard it (as vLLM). */
export function metricsRoutes(app: FastifyInstance, metrics: Metrics, source: { readonly engine: EngineClient }): void {
  app.get('/metrics', async (_request, reply) => {
    // Read per scrape: the engine is attached once the model has loaded.
    metrics.updateFromEngine(await source.engine.stats());
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
