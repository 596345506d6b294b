// Swap-in: bringing a returning request's chunks back to device. Its own chain's chunks in
// lower tiers (planRestore, restore), and the prompt's chunks that other holders keep in a
// lower tier — another chain, a branch, a chunk file found after a restart — found by key
// (planShared, loadShared). The engine starts the disk reads (prefetch) when the request is
// queued (src/engine/tiers/tier-io.ts) and the scheduler admits it once they have landed.
// A disk slot the shared tier filled (shared-chunks.ts) is swapped in like any other; its
// items are marked, so the request's usage names the tier its tokens really came from.
import type { BlockHash } from './block-hash.js';
import type { ChunkMeta } from './chunk-transfer.js';
import type { ChunkTiers, RestoreItem } from './chunk-tiers.js';
import * as eviction from './chunk-eviction.js';
import type { ConversationState } from './conversation-state.js';
import type { LowerTier } from './tier-slots.js';

/** Lower-tier chunks of `conv` inside the first `lcp` tokens: what a request reusing them must swap in. */
export function planRestore(t: ChunkTiers, conv: ConversationState, lcp: number): RestoreItem[] {
  const items: RestoreItem[] = [];
  const cs = t.ctx.chunkSize;
  for (let c = 0; c * cs < lcp && c < conv.chunks.length; c++) {
    const tier = conv.chunks[c]!;
    if (tier !== 'host' && tier !== 'disk') continue;
    const slot = conv.slots(tier)[c]!;
    items.push({ chunk: c, tier, slot, meta: t.meta(conv, c), reusedTokens: Math.min(lcp, (c + 1) * cs) - c * cs, ...origin(t, tier, slot) });
  }
  return items;
}

/**
 * Brings `items` of an idle conversation back to device (swap-in), evicting others as
 * needed; the lower slots stay as copies. A block whose content is still findable by
 * hash is revived instead of copied. All or nothing: false when the blocks do not fit.
 */
export function restore(t: ChunkTiers, conv: ConversationState, items: readonly RestoreItem[]): boolean {
  if (conv.owner !== null) throw new Error(`conversation ${conv.id} is in use by ${conv.owner}`);
  const { pool } = t.ctx;
  const ranges = items.map((it) => conv.chunkBlocks(it.chunk));
  const need = ranges.reduce((n, r) => n + r.end - r.first, 0);
  if (!eviction.ensureFree(t, need, [{ conv, from: 0 }])) return false;
  // Revive first: allocating could hand out the very free blocks that hold the content.
  const copy: number[] = [];
  items.forEach((it, i) => {
    const { first, end } = ranges[i]!;
    const found: number[] = [];
    for (let b = first; b < end && b < conv.hashes.length; b++) {
      const id = pool.lookup(conv.hashes[b]!);
      if (id === undefined) break;
      found.push(id);
    }
    if (found.length < end - first) return void copy.push(i);
    pool.touch(found);
    conv.swappedIn(it.chunk, found);
  });
  for (const i of copy) {
    const it = items[i]!;
    const { first, end } = ranges[i]!;
    const ids = pool.allocate(end - first);
    if (ids === null) throw new Error(`restore of ${conv.id} could not get the blocks it made free`);
    conv.swappedIn(it.chunk, ids);
    t.outbox.push({ op: 'load', from: it.tier, slot: it.slot, blocks: ids, chunk: it.meta });
    t.counters.loadedChunks[it.tier]++;
    if (it.tier === 'disk') t.fromSharedTier.delete(it.slot);
  }
  return true;
}

/**
 * The full chunks of a prompt that a lower tier holds and the device does not, among
 * positions [0, end) and outside `own`'s share of them (chunks `own` keeps in any tier
 * are restored through it): what a request must swap in from other holders. `chain`
 * holds the prompt's block hashes.
 */
export function planShared(t: ChunkTiers, chain: readonly BlockHash[], end: number, own: ConversationState | null, ownReach: number): RestoreItem[] {
  if (t.lowerTiers.length === 0) return [];
  const { pool, chunkSize: cs, blockSize: bs } = t.ctx;
  const per = cs / bs;
  const items: RestoreItem[] = [];
  for (let c = 0; (c + 1) * cs <= end && (c + 1) * per <= chain.length; c++) {
    if (own !== null && (c + 1) * cs <= ownReach && own.chunks[c] !== undefined && own.chunks[c] !== 'dropped') continue;
    const hashes = chain.slice(c * per, (c + 1) * per);
    if (hashes.every((h) => pool.lookup(h) !== undefined)) continue;
    const key = hashes[per - 1]!;
    const found = holderOf(t, key);
    if (found === null) continue;
    const meta: ChunkMeta = { conversationId: found.conversationId, chunkIndex: c, numTokens: cs, tokenHash: key, lastAccess: t.ctx.clock() };
    items.push({ chunk: c, tier: found.tier, slot: found.slot, meta, reusedTokens: cs, shared: { hashes }, ...origin(t, found.tier, found.slot) });
  }
  return items;
}

/**
 * Swaps in chunks of other holders (from planShared): each is loaded into fresh blocks
 * registered under its block hashes and left in the free queue's cached end, where the
 * request's sequence takes them up at once. Chunks that no longer fit (or whose slot
 * changed hands) are skipped: the request computes them. Returns the items loaded.
 */
export function loadShared(t: ChunkTiers, items: readonly RestoreItem[], keep: readonly ConversationState[]): RestoreItem[] {
  const { pool } = t.ctx;
  const live = items.filter((it) => it.shared !== undefined && t.slotsOf(it.tier).ownerOf(it.slot)?.key === it.meta.tokenHash);
  const need = live.reduce((n, it) => n + it.shared!.hashes.length, 0);
  if (need === 0) return [];
  for (const it of live) t.protectedSlots.add(`${it.tier}:${it.slot}`);
  try {
    if (!eviction.ensureFree(t, need, keep.map((conv) => ({ conv, from: 0 })))) return [];
  } finally {
    t.protectedSlots.clear();
  }
  const loaded: RestoreItem[] = [];
  for (const it of live) {
    // The blocks may have been revived meanwhile (an earlier item, another request).
    if (it.shared!.hashes.every((h) => pool.lookup(h) !== undefined)) continue;
    const ids = pool.allocate(it.shared!.hashes.length)!;
    t.outbox.push({ op: 'load', from: it.tier, slot: it.slot, blocks: ids, chunk: it.meta });
    if (it.tier === 'disk') t.fromSharedTier.delete(it.slot);
    const anonymous = ids.filter((id, k) => !pool.cacheBlock(id, it.shared!.hashes[k]!));
    pool.free([...ids].reverse());
    if (anonymous.length > 0) continue;
    t.counters.loadedChunks[it.tier]++;
    t.counters.sharedLoads++;
    loaded.push(it);
  }
  return loaded;
}

/** A lower-tier slot holding the chunk with this key (host first: it is faster). */
export function holderOf(t: ChunkTiers, key: string): { tier: LowerTier; slot: number; conversationId: string } | null {
  for (const tier of t.lowerTiers) {
    const slots = t.slotsOf(tier);
    for (const slot of slots.slotsWithKey(key)) return { tier, slot, conversationId: slots.ownerOf(slot)!.conversationId };
  }
  return null;
}

/** Marks an item whose disk slot the shared tier filled (its first swap-in counts as that tier's). */
function origin(t: ChunkTiers, tier: LowerTier, slot: number): { fromSharedTier?: true } {
  return tier === 'disk' && t.fromSharedTier.has(slot) ? { fromSharedTier: true } : {};
}
