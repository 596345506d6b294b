// Eviction between tiers: a device chunk leaves for the nearest lower tier with room
// (device → host → disk), a lower-tier entry makes room for a more valuable one (a copy is
// forgotten, a host chunk is demoted to disk, a disk chunk is dropped), lowest retention
// value first in each tier (eviction-policy.ts ranks them). A chunk that cannot go down is
// dropped, and with it every chunk before it: dropped chunks always form a prefix, which
// the next request recomputes in one pass (prefix-match.ts). Bookkeeping only: each move
// is a ChunkTransfer in the outbox, run by the engine before the next forward pass.
import type { ChunkTiers, PersistedChunk } from './chunk-tiers.js';
import { NO_SLOT, type ChunkTier, type ConversationState } from './conversation-state.js';
import { evictionOrder, reclaimableBlocks } from './eviction-policy.js';
import type { LowerTier } from './tier-slots.js';

/**
 * Entries eviction must not touch: all of a conversation's (`from` 0), or its chunks
 * from `from` on that live only in the lower tiers (dropping one of those would drop a
 * chunk that is being moved).
 */
export interface Exclusion {
  conv: ConversationState;
  from: number;
}

interface LowerEntry {
  tier: LowerTier;
  conv: ConversationState | null;
  /** Set for a persisted chunk not yet attached. */
  persisted: PersistedChunk | null;
  chunk: number;
  value: number;
}

/**
 * Makes `need` device blocks free by moving idle conversations' chunks down a tier (or
 * dropping them), lowest retention value first; all or nothing. `exclude` is never
 * touched (a conversation being restored).
 */
export function ensureFree(t: ChunkTiers, need: number, exclude: readonly Exclusion[] = []): boolean {
  const { pool } = t.ctx;
  if (pool.numFree >= need) return true;
  const convs = [...t.ctx.conversations.values()].filter((c) => !exclude.some((x) => x.conv === c));
  if (pool.numFree + reclaimableBlocks(convs, pool) < need) return false;
  for (const { conv, chunk } of evictionOrder(convs, t.ctx.policy, t.ctx.clock(), t.lastUse)) {
    evictDeviceChunk(t, conv, chunk, exclude);
    if (pool.numFree >= need) return true;
  }
  return pool.numFree >= need;
}

/**
 * A lower-tier slot's content is gone (a failed write, a corrupt or unreadable file):
 * a copy is forgotten; a chunk that lived only there is dropped with its prefix.
 */
export function lostChunk(t: ChunkTiers, tier: LowerTier, slot: number): void {
  const slots = t.slotsOf(tier);
  const owner = slots.ownerOf(slot);
  if (owner === null) return;
  t.counters.lostChunks++;
  if (owner.persisted) {
    t.persisted.delete(owner.key);
    t.release(tier, slot);
    return;
  }
  const conv = t.ctx.conversations.get(owner.conversationId);
  if (conv === undefined || conv.slots(tier)[owner.chunk] !== slot) throw new Error(`${tier} slot ${slot} has no owner chunk`);
  if (conv.isCopy(tier, owner.chunk)) {
    conv.clearSlot(tier, owner.chunk);
    t.release(tier, slot);
  } else {
    dropPrefix(t, conv, owner.chunk);
  }
}

/** Whether a lower tier holds this key in a slot that is not `conv`'s. */
export function heldElsewhere(t: ChunkTiers, key: string, conv: ConversationState): boolean {
  for (const tier of t.lowerTiers) {
    if (t.slotsOf(tier).slotsWithKey(key).some((slot) => t.slotsOf(tier).ownerOf(slot)!.conversationId !== conv.id)) return true;
  }
  return false;
}

/** Device chunk `c` (the conversation's leading one) leaves the device. */
export function evictDeviceChunk(t: ChunkTiers, conv: ConversationState, c: number, exclude: readonly Exclusion[]): void {
  const blocks = conv.deviceBlocksOf(c);
  const { pool } = t.ctx;
  let tier: ChunkTier = 'dropped';
  let shared = false;
  if (conv.host[c] !== NO_SLOT) tier = 'host';
  else if (conv.disk[c] !== NO_SLOT) tier = 'disk';
  if (tier !== 'dropped') {
    t.counters.reclaimedChunks++;
  } else if ((shared = !conv.hasLowerSlotBefore(c) && (blocks.every((id) => pool.refCount(id) > 1) || (conv.chunkLength(c) === conv.chunkSize && heldElsewhere(t, conv.chunkKey(c), conv))))) {
    // Another chain or request holds the same blocks, or a lower tier has the chunk: the
    // store keeps it, so this chain lets go of its reference (its prefix is dropped
    // already) and a later request of it finds the chunk by key.
    t.counters.sharedEvictions++;
  } else {
    for (const lower of t.lowerTiers) {
      const slot = obtainSlot(t, lower, conv, c, exclude, Infinity);
      if (slot === null) continue;
      t.outbox.push({ op: 'save', blocks, to: lower, slot, chunk: t.meta(conv, c) });
      conv.setSlot(lower, c, slot);
      t.counters.savedChunks[lower]++;
      tier = lower;
      break;
    }
  }
  conv.moveDown(c, tier);
  if (tier === 'dropped') {
    if (!shared) t.counters.droppedChunks++;
    dropPrefix(t, conv, c - 1);
  }
  // Tail block first into the free queue, so the leading one stays findable longer.
  pool.free([...blocks].reverse());
  t.evictedChunks++;
}

/**
 * A free slot of `tier` for chunk `c` of `conv`, making room by evicting the tier's
 * lowest-value entry if its value is below `maxValue`. Null when the tier is full of
 * entries that may not move or are worth more.
 */
export function obtainSlot(t: ChunkTiers, tier: LowerTier, conv: ConversationState, c: number, exclude: readonly Exclusion[], maxValue: number): number | null {
  const slots = t.slotsOf(tier);
  const owner = { conversationId: conv.id, chunk: c, key: conv.chunkKey(c) };
  const slot = slots.allocate(owner);
  if (slot !== null || slots.capacity === 0) return slot;
  const victim = cheapestEntry(t, tier, exclude);
  if (victim === null || victim.value >= maxValue) return null;
  evictLowerEntry(t, victim, exclude);
  return slots.allocate(owner);
}

/** The lowest-value entry of a lower tier that may leave it. */
export function cheapestEntry(t: ChunkTiers, tier: LowerTier, exclude: readonly Exclusion[]): LowerEntry | null {
  const { policy, chunkSize } = t.ctx;
  const now = t.ctx.clock();
  let best: LowerEntry | null = null;
  for (const conv of t.ctx.conversations.values()) {
    const from = Math.min(...exclude.filter((x) => x.conv === conv).map((x) => x.from));
    if (from === 0) continue;
    const slots = conv.slots(tier);
    // Its leading entry that may go: any copy, or a chunk of an idle conversation.
    let c = 0;
    while (c < slots.length && (slots[c] === NO_SLOT || !(conv.idle || conv.isCopy(tier, c)))) c++;
    if (c >= slots.length || (c >= from && !conv.isCopy(tier, c))) continue;
    if (t.protectedSlots.has(`${tier}:${slots[c]}`)) continue;
    const value = policy.retentionValue(t.candidate(conv, c, now)!);
    if (best === null || value < best.value) best = { tier, conv, persisted: null, chunk: c, value };
  }
  if (tier === 'disk') {
    for (const p of t.persisted.values()) {
      if (t.protectedSlots.has(`disk:${p.slot}`)) continue;
      const value = policy.retentionValue({
        conversationId: p.conversationId,
        chunkIndex: p.chunkIndex,
        contextLength: p.chunkIndex * chunkSize,
        numTokens: p.numTokens,
        idleMs: Math.max(0, now - Math.max(p.lastAccess, t.ctx.index.lastUseOf(p.tokenHash))),
      });
      if (best === null || value < best.value) best = { tier, conv: null, persisted: p, chunk: p.chunkIndex, value };
    }
  }
  return best;
}

/** Frees the entry's slot: a copy is forgotten, a host chunk goes to disk, a disk chunk is dropped. */
export function evictLowerEntry(t: ChunkTiers, e: LowerEntry, exclude: readonly Exclusion[]): void {
  if (e.persisted !== null) {
    t.persisted.delete(e.persisted.tokenHash);
    t.release('disk', e.persisted.slot);
    t.counters.droppedChunks++;
    return;
  }
  const conv = e.conv!;
  const c = e.chunk;
  const slot = conv.slots(e.tier)[c]!;
  if (conv.isCopy(e.tier, c)) {
    conv.clearSlot(e.tier, c);
    t.release(e.tier, slot);
    return;
  }
  if (e.tier === 'host') {
    if (conv.disk[c] !== NO_SLOT) {
      conv.keepOnDisk(c);
      t.release('host', slot);
      return;
    }
    // Dropping one of the conversation's disk chunks after c would drop c too, in the
    // middle of its move: those may not make room.
    const d = t.disk.capacity > 0 ? obtainSlot(t, 'disk', conv, c, [...exclude, { conv, from: c }], Infinity) : null;
    if (d !== null) {
      t.outbox.push({ op: 'demote', hostSlot: slot, slot: d, chunk: t.meta(conv, c) });
      conv.demote(c, d);
      t.host.release(slot);
      t.counters.demotedChunks++;
      return;
    }
  }
  dropPrefix(t, conv, c);
}

/** Drops chunks [0, c] of a conversation: no tier keeps them. */
export function dropPrefix(t: ChunkTiers, conv: ConversationState, c: number): void {
  const { slots, newlyDropped } = conv.dropPrefix(c);
  for (const { tier, slot } of slots) t.release(tier, slot);
  t.counters.droppedChunks += newlyDropped;
}
