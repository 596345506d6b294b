// The two units of KV memory, each defined once. A block (16 tokens) is what attention
// reads through a block table: the paged pool's unit, fixed by the KV layout
// (model/kv-cache.ts). A chunk (32 tokens, the paper's size, so 2 blocks) is the unit of
// residency: a chunk lives on device, in a lower tier or nowhere, moves between tiers
// whole, and is what retention values rank. A conversation's chunks are laid out
// [dropped prefix | host/disk middle | device tail] (conversation-state.ts).
import { DEFAULT_BLOCK_SIZE } from '../model/kv-cache.js';

/** Tokens per KV block. */
export const BLOCK_SIZE = DEFAULT_BLOCK_SIZE;

/** Tokens per residency chunk; a multiple of BLOCK_SIZE. */
export const CHUNK_SIZE = 32;
