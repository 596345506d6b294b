// The moves of chunk data between tiers that the cache bookkeeping decides and the
// engine carries out (vLLM's blocks_to_swap_in / blocks_to_swap_out, per chunk). The
// cache appends them in the order it decided them; the engine executes them in that
// order before the next forward pass writes any KV, which is what makes reusing a
// block in the same step safe: a block's old content is saved before it is written.
import type { LowerTier } from './tier-slots.js';

/** What identifies a chunk's content wherever it is stored (a disk file's header). */
export interface ChunkMeta {
  conversationId: string;
  chunkIndex: number;
  /** Tokens in the chunk (the last chunk of a history may be short). */
  numTokens: number;
  /** Hash of every token up to the chunk's end, under the model id (block-hash.ts prefixHash). */
  tokenHash: string;
  /** Clock time (ms) the conversation was last used: its idle time after a restart. */
  lastAccess: number;
}

export type ChunkTransfer =
  /** Copy device blocks into a lower tier slot (swap-out, or an ahead-of-time copy). */
  | { op: 'save'; blocks: number[]; to: LowerTier; slot: number; chunk: ChunkMeta }
  /** Move a host slot's content into a disk slot (host eviction); the host slot is free after. */
  | { op: 'demote'; hostSlot: number; slot: number; chunk: ChunkMeta }
  /** Copy a host slot's content into a disk slot; the host slot keeps it (persisting at shutdown). */
  | { op: 'copy'; hostSlot: number; slot: number; chunk: ChunkMeta }
  /** Copy a lower tier slot into device blocks (swap-in); the slot keeps its copy. */
  | { op: 'load'; from: LowerTier; slot: number; blocks: number[]; chunk: ChunkMeta }
  /** The slot's content is no longer wanted (a disk file can be deleted). */
  | { op: 'release'; tier: LowerTier; slot: number };
