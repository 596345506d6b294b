// Where each live conversation's KV is, for a reader outside the engine (the web page's cache
// view): per named conversation, how many of its 32-token chunks are dropped, on disk, in host
// memory, on device — the [dropped | disk/host | device] layout of DESIGN.md §2 as four counts.
// Plain data, so it crosses the worker boundary in the stats message.

import type { ChunkTier } from '../cache/conversation-state.js';
import type { KvCacheManager } from '../cache/kv-cache-manager.js';

export interface ConversationLayout {
  /** The conversation's name in the cache (a Responses chain's root response id, a conversation id). */
  id: string;
  /** Tokens of its history whose KV exists or existed. */
  tokens: number;
  /** Chunks per tier; they sum to the history's chunks. */
  chunks: Record<ChunkTier, number>;
  /** A request runs on it now (its chunks are then the request's, on device). */
  active: boolean;
  /** Cache clock time (ms) of its last request start or finish. */
  lastAccess: number;
}

/** At most this many layouts per stats message, the most recently used first. */
export const MAX_LAYOUTS = 64;

export function conversationLayouts(kv: KvCacheManager, limit = MAX_LAYOUTS): ConversationLayout[] {
  const layouts: ConversationLayout[] = [];
  for (const id of kv.conversationIds()) {
    const conv = kv.conversation(id);
    if (conv === undefined) continue;
    const chunks: Record<ChunkTier, number> = { dropped: 0, disk: 0, host: 0, device: 0 };
    for (const tier of conv.chunks) chunks[tier]++;
    layouts.push({ id, tokens: conv.tokens.length, chunks, active: conv.owner !== null, lastAccess: conv.lastAccess });
  }
  layouts.sort((a, b) => b.lastAccess - a.lastAccess);
  return layouts.slice(0, limit);
}
