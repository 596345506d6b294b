// Which idle conversation chunk leaves the device next. A policy scores a candidate
// chunk by its retention value (lower goes first); the order only ever offers each
// idle conversation's leading device chunk, so the [dropped | device] layout holds
// whatever the policy. Pensieve's policy, V = Cost(l) / T (DESIGN.md §2), plugs in here
// next to LRU, which it was measured against.
import type { BlockPool } from './block-pool.js';
import type { ConversationState } from './conversation-state.js';
import { NO_BLOCK } from './sequence.js';

export interface ChunkCandidate {
  readonly conversationId: string;
  readonly chunkIndex: number;
  /** Tokens before the chunk (l): what recomputing it would attend over. */
  readonly contextLength: number;
  /** Tokens in the chunk (the last one may be short). */
  readonly numTokens: number;
  /** Milliseconds since the conversation was last used (T). */
  readonly idleMs: number;
}

export interface EvictionPolicy {
  readonly name: string;
  /** Lower is evicted first. */
  retentionValue(chunk: ChunkCandidate): number;
}

/** Least recently used conversation first, its leading chunks first. */
export class LruPolicy implements EvictionPolicy {
  readonly name = 'lru';
  retentionValue(chunk: ChunkCandidate): number {
    return -chunk.idleMs;
  }
}

interface HeapEntry {
  value: number;
  /** Tie-break: the order conversations were offered, so equal values evict stably. */
  rank: number;
  conv: ConversationState;
  chunk: number;
}

/**
 * Yields idle conversations' chunks in eviction order. The caller evicts each chunk
 * before asking for the next; the conversation's following chunk is then offered.
 * A heap over one candidate per conversation keeps each step O(log conversations).
 */
export function* evictionOrder(
  conversations: Iterable<ConversationState>,
  policy: EvictionPolicy,
  now: number,
): Generator<{ conv: ConversationState; chunk: number }> {
  const heap: HeapEntry[] = [];
  let rank = 0;
  const offer = (conv: ConversationState, r: number): void => {
    const chunk = conv.leadingDeviceChunk();
    if (chunk < 0) return;
    const contextLength = conv.contextLengthBefore(chunk);
    const candidate: ChunkCandidate = {
      conversationId: conv.id,
      chunkIndex: chunk,
      contextLength,
      numTokens: Math.min(conv.chunkSize, conv.numTokens - contextLength),
      idleMs: Math.max(0, now - conv.lastAccess),
    };
    push(heap, { value: policy.retentionValue(candidate), rank: r, conv, chunk });
  };
  for (const conv of conversations) if (conv.idle) offer(conv, rank++);
  while (heap.length > 0) {
    const top = pop(heap);
    yield { conv: top.conv, chunk: top.chunk };
    // Re-offered with its old rank so an LRU conversation keeps going until it is empty.
    if (top.conv.idle && top.conv.leadingDeviceChunk() !== top.chunk) offer(top.conv, top.rank);
  }
}

/** Held blocks that evicting every idle conversation would free: all their holders are idle. */
export function reclaimableBlocks(conversations: Iterable<ConversationState>, pool: BlockPool): number {
  const holders = new Map<number, number>();
  for (const conv of conversations) {
    if (!conv.idle) continue;
    for (const id of conv.blocks) if (id !== NO_BLOCK) holders.set(id, (holders.get(id) ?? 0) + 1);
  }
  let n = 0;
  for (const [id, count] of holders) if (count === pool.refCount(id)) n++;
  return n;
}

function less(a: HeapEntry, b: HeapEntry): boolean {
  return a.value < b.value || (a.value === b.value && a.rank < b.rank);
}

function push(heap: HeapEntry[], e: HeapEntry): void {
  heap.push(e);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(heap[i]!, heap[parent]!)) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

function pop(heap: HeapEntry[]): HeapEntry {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
  return top;
}
