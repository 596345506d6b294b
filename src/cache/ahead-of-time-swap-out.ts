// Ahead-of-time swap-out (the paper's §4.3): while the free device blocks fall short of a
// threshold, the lowest-value idle device chunks are copied to the nearest lower tier in
// the background, and their device blocks are reclaimed lazily, only when the space is
// needed — an eviction of a chunk with a copy costs nothing then (chunk-eviction.ts).
import type { ChunkTiers } from './chunk-tiers.js';
import { NO_SLOT, type ConversationState } from './conversation-state.js';
import * as eviction from './chunk-eviction.js';
import { chunkEvictionOrder, type ChunkCandidate } from './eviction-policy.js';

/**
 * Ahead-of-time swap-out (the paper's §4.3): while the device blocks that are free, or
 * free for the asking because their chunk has a lower copy, fall short of
 * `threshold` of the pool, copies the lowest-value idle device chunks to the nearest
 * lower tier, at most `maxChunks` per call. Only displaces lower-tier entries of lower
 * value than the chunk copied. Returns the number of chunks copied.
 */
export function swapOutAhead(t: ChunkTiers, threshold: number, maxChunks: number): number {
  const tier = t.lowerTiers[0];
  if (tier === undefined || maxChunks <= 0) return 0;
  const { pool, policy } = t.ctx;
  const target = Math.ceil(threshold * pool.numBlocks);
  let available = pool.numFree + freeForTheAsking(t);
  if (available >= target) return 0;
  const now = t.ctx.clock();
  const idle = [...t.ctx.conversations.values()].filter((c) => c.idle);
  const firstUncopied = (conv: ConversationState): ChunkCandidate | null => {
    if (!conv.idle) return null;
    for (let c = conv.leadingDeviceChunk(); c >= 0 && c < conv.chunks.length; c++) {
      if (conv.host[c] === NO_SLOT && conv.disk[c] === NO_SLOT) return t.candidate(conv, c, now);
    }
    return null;
  };
  let copied = 0;
  for (const { source: conv, candidate } of chunkEvictionOrder(idle, firstUncopied, policy)) {
    if (copied >= maxChunks || available >= target) break;
    const c = candidate.chunkIndex;
    const slot = eviction.obtainSlot(t, tier, conv, c, [], policy.retentionValue(candidate));
    if (slot === null) break; // everything below is worth more
    const blocks = conv.deviceBlocksOf(c);
    t.outbox.push({ op: 'save', blocks, to: tier, slot, chunk: t.meta(conv, c) });
    conv.setSlot(tier, c, slot);
    t.counters.savedChunks[tier]++;
    t.counters.aheadOfTimeChunks++;
    available += blocks.filter((id) => pool.refCount(id) === 1).length;
    copied++;
  }
  return copied;
}

/** Device blocks of idle chunks that hold a lower copy and no other holder: free for the asking. */
export function freeForTheAsking(t: ChunkTiers): number {
  const { pool } = t.ctx;
  let n = 0;
  for (const conv of t.ctx.conversations.values()) {
    if (!conv.idle) continue;
    conv.chunks.forEach((where, c) => {
      if (where !== 'device' || (conv.host[c] === NO_SLOT && conv.disk[c] === NO_SLOT)) return;
      for (const id of conv.deviceBlocksOf(c)) if (pool.refCount(id) === 1) n++;
    });
  }
  return n;
}
