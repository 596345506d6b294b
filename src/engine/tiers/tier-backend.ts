// One interface for every tier below the device (DESIGN.md §8): host memory, disk files,
// and the ones to come (pinned GPU host memory, a shared remote tier). The cache decides
// which slot holds which chunk (src/cache/tier-slots.ts); a backend only stores bytes and
// says when a swap-in of a slot can run without waiting. TierIo routes each transfer to
// the backend its tier names and knows nothing else of them.
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import type { LowerTier } from '../../cache/tier-slots.js';
import type { KvPool } from '../../kernels/types.js';

export interface TierBackend {
  readonly tier: LowerTier;
  /** Device blocks → slot (a swap-out, or an ahead-of-time copy). */
  save(slot: number, blocks: readonly number[], meta: ChunkMeta): void;
  /** Gathered values → slot (a chunk moving in from another tier). */
  put(slot: number, data: KvPool, numBlocks: number, meta: ChunkMeta): void;
  /** Slot → device blocks (a swap-in); the slot keeps its copy. */
  load(slot: number, blocks: readonly number[], meta: ChunkMeta): void;
  /** The slot's content as gathered values, for a move to another tier. */
  take(slot: number): { data: KvPool; numBlocks: number };
  /** The slot's content is no longer wanted. */
  release(slot: number): void;
  /** Whether a swap-in of the slot can run now; starts what it waits on (a disk read) if not. */
  ready(slot: number, meta: ChunkMeta): boolean;
}
