// The cache's side of the KV tier shared by replicas (a Redis server below each replica's
// disk; the bytes move in src/engine/tiers/shared-tier.ts). Three questions, answered on
// the bookkeeping alone:
//   sharedTierWants     which of a prompt's full chunks no local tier holds: what to ask for
//   adoptSharedChunk    where a chunk the shared tier returned goes: a disk slot, claimed as
//                       a chunk file found at start-up is (persisted-chunks.ts), so the usual
//                       attach / swap-in paths serve it to any prompt with its tokens
//   diskChunksToShare   which chunks a drain sends up: every full chunk the disk tier holds
//
// Only full chunks are shared. A short last chunk's key depends on where the history ended,
// so a reader would have to guess its length; the 1 to 31 tokens are recomputed instead.
//
// Every chunk asked for is asked for, not only those up to the first miss: a shared tier
// bounded by LRU loses a conversation's leading chunks first (written and read earliest),
// and a missing prefix, or a hole, is recomputed in the same pass as the new tokens
// (prefix-match.ts), so the chunks after it are still worth swapping in.
import type { BlockHash } from './block-hash.js';
import type { ChunkTiers, PersistedChunk } from './chunk-tiers.js';
import type { ChunkMeta } from './chunk-transfer.js';
import * as eviction from './chunk-eviction.js';
import { holderOf } from './swap-in.js';

/** A full chunk of a prompt to ask the shared tier for. */
export interface SharedChunkWant {
  chunk: number;
  /** Its key: the hash of every token up to its end (the content address every tier uses). */
  key: BlockHash;
}

export interface SharedTierWants {
  /** The chunks to ask for, in order. */
  wants: SharedChunkWant[];
  /** The keys of every full chunk considered: what adopting the answers must not evict. */
  keys: BlockHash[];
}

/**
 * The full chunks of a prompt among positions [0, end) that neither the device (by block
 * hash) nor a lower tier (by key, chunk files found at start-up included) holds, in order.
 * `chain` holds the prompt's block hashes. Empty without a disk tier: what the shared tier
 * returns is written there.
 */
export function sharedTierWants(t: ChunkTiers, chain: readonly BlockHash[], end: number): SharedTierWants {
  const out: SharedTierWants = { wants: [], keys: [] };
  if (t.disk.capacity === 0) return out;
  const { pool, chunkSize: cs, blockSize: bs } = t.ctx;
  const per = cs / bs;
  for (let c = 0; (c + 1) * cs <= end && (c + 1) * per <= chain.length; c++) {
    const hashes = chain.slice(c * per, (c + 1) * per);
    const key = hashes[per - 1]!;
    out.keys.push(key);
    if (hashes.every((h) => pool.lookup(h) !== undefined) || holderOf(t, key) !== null) continue;
    out.wants.push({ chunk: c, key });
  }
  return out;
}

/**
 * Claims a disk slot for a chunk the shared tier returned, as a chunk file found at
 * start-up: unattached, indexed by key, until a prompt with its tokens comes. When the disk
 * is full the tier's lowest-value entry makes room if it is worth less than this chunk (a
 * chunk a request is about to read: used now), except entries holding `protect`'s keys
 * (the rest of the prompt). Null when a local tier holds the chunk by now, or no slot is
 * had. The moves that made room are in the outbox: run them before writing the slot.
 * (A device copy made meanwhile is no reason to refuse: a second copy of a chunk is
 * harmless, and the device one may be evicted before the request runs.)
 */
export function adoptSharedChunk(t: ChunkTiers, chunk: Omit<PersistedChunk, 'slot'>, protect: readonly BlockHash[] = []): number | null {
  const { policy, chunkSize: cs } = t.ctx;
  if (t.disk.capacity === 0 || chunk.numTokens !== cs || holderOf(t, chunk.tokenHash) !== null) return null;
  const owner = { conversationId: chunk.conversationId, chunk: chunk.chunkIndex, key: chunk.tokenHash, persisted: true };
  let slot = t.disk.allocate(owner);
  if (slot === null) {
    for (const key of protect) for (const s of t.disk.slotsWithKey(key)) t.protectedSlots.add(`disk:${s}`);
    try {
      const value = policy.retentionValue({ conversationId: chunk.conversationId, chunkIndex: chunk.chunkIndex, contextLength: chunk.chunkIndex * cs, numTokens: cs, idleMs: 0 });
      const victim = eviction.cheapestEntry(t, 'disk', []);
      if (victim === null || victim.value >= value) return null;
      eviction.evictLowerEntry(t, victim, []);
    } finally {
      t.protectedSlots.clear();
    }
    slot = t.disk.allocate(owner);
    if (slot === null) return null;
  }
  t.persisted.set(chunk.tokenHash, { ...chunk, slot });
  t.fromSharedTier.add(slot);
  t.counters.sharedTierChunks++;
  return slot;
}

/** Every full chunk the disk tier holds, with the identity its file records: what a drain sends up. */
export function diskChunksToShare(t: ChunkTiers): { slot: number; meta: ChunkMeta }[] {
  const out: { slot: number; meta: ChunkMeta }[] = [];
  for (const [slot, owner] of t.disk.used()) {
    if (owner.persisted) {
      const p = t.persisted.get(owner.key);
      if (p === undefined || p.slot !== slot || p.numTokens !== t.ctx.chunkSize) continue;
      out.push({ slot, meta: { conversationId: p.conversationId, chunkIndex: p.chunkIndex, numTokens: p.numTokens, tokenHash: p.tokenHash, lastAccess: p.lastAccess } });
      continue;
    }
    const conv = t.ctx.conversations.get(owner.conversationId);
    if (conv === undefined || conv.disk[owner.chunk] !== slot || conv.chunkLength(owner.chunk) !== t.ctx.chunkSize) continue;
    out.push({ slot, meta: t.meta(conv, owner.chunk) });
  }
  return out;
}
