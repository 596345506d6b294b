// Which of a new prompt's KV already exists, and where: the first half of vLLM's
// get_computed_blocks + allocate_slots, extended with Pensieve's conversation state.
//
// For a conversation, the prompt is matched against the history token by token (longest
// common prefix, LCP): blocks inside the LCP still on device are reused in place; dropped
// ones are revived from the prefix cache when their content is still in a free block,
// else recomputed; history past the LCP (an edited message, a template that rewrites
// earlier turns) is released. Without a conversation (or past a block-aligned LCP), full
// blocks are found by their hash chain, stopping at the first miss.
import type { BlockHash } from './block-hash.js';
import type { BlockPool } from './block-pool.js';
import type { ConversationState } from './conversation-state.js';
import { NO_BLOCK, Sequence } from './sequence.js';
import type { LowerTier } from './tier-slots.js';

export interface PrefixMatch {
  /** The request's sequence: reused blocks in its table, the rest pending. */
  seq: Sequence;
  /** Tokens to compute whose KV existed before (dropped, or copied on write). */
  numRecomputedTokens: number;
  /** Lower-tier slots of the conversation's history the request changes: the caller releases them. */
  releasedSlots: { tier: LowerTier; slot: number }[];
}

/**
 * Builds the sequence of a new request and takes references on every block it reuses.
 * `conv`, when given, is checked out to the request: its blocks either move into the
 * sequence or are released here.
 */
export function matchCachedPrefix(
  pool: BlockPool,
  requestId: string,
  prompt: readonly number[],
  blockSize: number,
  salt: string,
  conv: ConversationState | null,
  now: number,
  promptHashes: readonly BlockHash[] = [],
): PrefixMatch {
  return conv === null
    ? { ...matchWith(pool, new Sequence(requestId, prompt, blockSize, promptHashes), [], 0, salt, false), releasedSlots: [] }
    : matchConversation(pool, requestId, prompt, conv, now, salt, promptHashes);
}

function matchConversation(
  pool: BlockPool,
  requestId: string,
  prompt: readonly number[],
  conv: ConversationState,
  now: number,
  salt: string,
  promptHashes: readonly BlockHash[],
): PrefixMatch {
  // The last prompt token is always computed: its logits start the reply.
  const lcp = Math.min(commonPrefix(prompt, conv.tokens), prompt.length - 1);
  const known = promptHashes.length > 0 ? promptHashes : conv.hashes.slice(0, Math.floor(lcp / conv.blockSize));
  const seq = new Sequence(requestId, prompt, conv.blockSize, known);
  // Lower-tier copies of whole chunks inside the LCP stay valid: the request only appends.
  const { blocks, released } = conv.checkOut(requestId, now, Math.floor(lcp / conv.chunkSize));
  return { ...matchWith(pool, seq, blocks, lcp, salt, true), releasedSlots: released };
}

/**
 * `holes`: past the history, every block the store holds is taken up to the last one found,
 * and the missing ones before it are computed (a prefix dropped by whichever chain held it);
 * without, the prefix cache stops at the first miss, as vLLM's does.
 */
function matchWith(pool: BlockPool, seq: Sequence, held: number[], lcp: number, salt: string, holes: boolean): Omit<PrefixMatch, 'releasedSlots'> {
  const bs = seq.blockSize;
  const cap = seq.numTokens - 1;
  const revive = (b: number): boolean => {
    const id = pool.lookup(seq.blockHash(b, salt));
    if (id === undefined) return false;
    pool.touch([id]);
    seq.setBlock(b, id);
    return true;
  };
  let recomputed = 0;
  const full = Math.floor(lcp / bs);
  for (let b = 0; b < full; b++) {
    const id = held[b] ?? NO_BLOCK;
    if (id !== NO_BLOCK) {
      seq.setBlock(b, id);
      held[b] = NO_BLOCK;
    } else if (!revive(b)) {
      seq.addPending(b * bs, (b + 1) * bs);
      recomputed += bs;
    }
  }
  let next = full * bs;
  let reach = full;
  if (holes) {
    for (let b = Math.floor(cap / bs) - 1; b >= full; b--) {
      if (pool.lookup(seq.blockHash(b, salt)) !== undefined) {
        reach = b + 1;
        break;
      }
    }
  }
  if (reach > full) {
    for (let b = full; b < reach; b++) {
      next = (b + 1) * bs;
      if (revive(b)) continue;
      const id = held[b] ?? NO_BLOCK;
      if (b === full && lcp % bs !== 0 && id !== NO_BLOCK && pool.refCount(id) === 1) {
        pool.uncache(id);
        seq.setBlock(b, id);
        held[b] = NO_BLOCK;
        seq.addPending(lcp, next);
        continue;
      }
      // A later block exists, so this one did too: dropped by whichever chain held it.
      seq.addPending(b * bs, next);
      recomputed += bs;
    }
  } else if (lcp % bs !== 0) {
    const id = held[full] ?? NO_BLOCK;
    if (id !== NO_BLOCK && pool.refCount(id) === 1) {
      // Ours alone: the new tokens are written after the LCP in place, so the content
      // its hash described is about to change.
      pool.uncache(id);
      seq.setBlock(full, id);
      held[full] = NO_BLOCK;
      next = lcp;
    } else {
      // Dropped, or shared with a branch or another request that reads it: writing would
      // corrupt their view, so its first tokens are recomputed into a fresh block.
      recomputed += lcp - next;
    }
  } else {
    for (let b = full; (b + 1) * bs <= cap && revive(b); b++) next = (b + 1) * bs;
  }
  seq.addPending(next, seq.numTokens);
  // Tail first, as vLLM frees, so the prefix of the released history is evicted last.
  pool.free(held.filter((id) => id !== NO_BLOCK).reverse());
  return { seq, numRecomputedTokens: recomputed };
}

/** Length of the longest common prefix. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
