// The JSON the web page's cache view polls (GET /v1/pensieve/cache): the engine's stats reduced to
// what the page draws — each tier's bytes and chunks against capacity, cumulative counters the
// page turns into rates (tokens served per tier, bytes swapped, tokens recomputed), the Cost(l)
// profile, and each live conversation's layout. Snake case, like the rest of the API. The schema
// is the contract: the route parses what it sends with it, the browser test reads it back.

import { z } from 'zod';
import type { EngineStats } from '../engine/protocol.js';

const tier = z.object({
  capacity_bytes: z.number().nonnegative(),
  used_bytes: z.number().nonnegative(),
  capacity_chunks: z.number().int().nonnegative(),
  used_chunks: z.number().int().nonnegative(),
});
const perTier = z.object({ device: z.number().nonnegative(), host: z.number().nonnegative(), disk: z.number().nonnegative() });
const lowerTiers = z.object({ host: z.number().nonnegative(), disk: z.number().nonnegative() });
const chunkCount = z.number().int().nonnegative();

export const cacheViewSchema = z.object({
  object: z.literal('pensieve.cache'),
  /** Server time (ms since the epoch) the figures were read at: rates are deltas over it. */
  time: z.number(),
  chunk_tokens: z.number().int().positive(),
  eviction_policy: z.string(),
  running: z.number().int().nonnegative(),
  waiting: z.number().int().nonnegative(),
  tiers: z.object({ device: tier, host: tier, disk: tier }),
  /** Cumulative: prompt tokens reused, by the tier that held them. */
  served_tokens: perTier,
  /** Cumulative KV bytes: device → tier (out), tier → device (in), host → disk (demote). */
  swap: z.object({ out_bytes: lowerTiers, in_bytes: lowerTiers, demote_bytes: z.number().nonnegative() }),
  /** Cumulative: tokens whose KV had existed and was computed again. */
  recomputed_tokens: z.number().nonnegative(),
  evicted_chunks: z.number().nonnegative(),
  prefix_cache_queries: z.number().nonnegative(),
  prefix_cache_hits: z.number().nonnegative(),
  preemptions: z.number().nonnegative(),
  generated_tokens: z.number().nonnegative(),
  /** Cost(l): ms to recompute one chunk after l tokens of context (empty until profiled). */
  cost_profile: z.array(z.object({ context_length: z.number().nonnegative(), ms: z.number().nonnegative() })),
  conversations: z.array(
    z.object({
      id: z.string(),
      tokens: z.number().int().nonnegative(),
      chunks: z.object({ dropped: chunkCount, disk: chunkCount, host: chunkCount, device: chunkCount }),
      active: z.boolean(),
      last_access: z.number(),
    }),
  ),
});

export type CacheView = z.infer<typeof cacheViewSchema>;

const CHUNK_TOKENS = 32;

const tierOf = (t: EngineStats['tiers']['device']) => ({
  capacity_bytes: t.capacityBytes,
  used_bytes: t.usedBytes,
  capacity_chunks: t.capacityChunks,
  used_chunks: t.usedChunks,
});

/** The view of `stats`, keeping the conversations `visible` says the caller may see. */
export function cacheView(stats: EngineStats, visible: (conversationId: string) => boolean, now = Date.now()): CacheView {
  const { cache, io } = stats;
  return cacheViewSchema.parse({
    object: 'pensieve.cache',
    time: now,
    chunk_tokens: CHUNK_TOKENS,
    eviction_policy: stats.eviction.policy,
    running: stats.running,
    waiting: stats.waiting,
    tiers: { device: tierOf(stats.tiers.device), host: tierOf(stats.tiers.host), disk: tierOf(stats.tiers.disk) },
    served_tokens: { ...stats.servedTokens },
    swap: { out_bytes: { ...io.swapOutBytes }, in_bytes: { ...io.swapInBytes }, demote_bytes: io.demoteBytes },
    recomputed_tokens: cache.recomputedTokens,
    evicted_chunks: cache.evictedChunks,
    prefix_cache_queries: cache.prefixCacheQueries,
    prefix_cache_hits: cache.prefixCacheHits,
    preemptions: cache.preemptions,
    generated_tokens: stats.generatedTokens,
    cost_profile: stats.eviction.costProfile.map((p) => ({ context_length: p.contextLength, ms: p.ms })),
    conversations: stats.conversations
      .filter((c) => visible(c.id))
      .map((c) => ({ id: c.id, tokens: c.tokens, chunks: { ...c.chunks }, active: c.active, last_access: c.lastAccess })),
  });
}
