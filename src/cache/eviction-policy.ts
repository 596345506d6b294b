// Which chunk leaves a tier next. A policy scores a candidate chunk by its retention
// value (lower goes first). Pensieve's policy is V = Cost(l) / T (DESIGN.md §2): the
// time recomputing the chunk would take, given the l tokens before it, over how long
// its conversation has been idle; LRU, which it was measured against, is the other.
//
// Each conversation offers one candidate per tier, its leading chunk there, so eviction
// takes leading chunks first whatever the policy and the [dropped | lower | device]
// layout holds. Cost grows with l, so within a conversation the leading chunk also has
// the lowest value: the policy only ever chooses between conversations.
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

/**
 * Milliseconds to compute one full chunk whose first token sits at context length l:
 * profiled at start-up (src/engine/cost-profile.ts) or given by a test.
 */
export type ChunkCostFn = (contextLength: number) => number;

/**
 * Pensieve's retention value: a chunk that is expensive to recompute (long context
 * before it) is kept longer; a conversation idle for long is less likely to return soon.
 */
export class RetentionPolicy implements EvictionPolicy {
  readonly name = 'retention';
  constructor(readonly cost: ChunkCostFn, readonly chunkSize = 32) {}

  retentionValue(chunk: ChunkCandidate): number {
    const cost = this.cost(chunk.contextLength) * (chunk.numTokens / this.chunkSize);
    // A conversation used this very millisecond is as valuable as one used 1 ms ago:
    // avoids dividing by zero without reordering anything measurable.
    return cost / Math.max(chunk.idleMs, 1);
  }
}

/** The candidate a conversation (or a persisted chunk set) offers now, or null. */
export type CandidateOf<T> = (source: T) => ChunkCandidate | null;

interface HeapEntry<T> {
  value: number;
  /** Tie-break: the order sources were offered, so equal values evict stably. */
  rank: number;
  source: T;
  candidate: ChunkCandidate;
}

/**
 * Yields candidates in eviction order, lowest retention value first. The caller acts on
 * each before asking for the next; the source is then asked again, and offers its next
 * chunk if the one yielded is gone (a source that offers the same chunk again, because
 * the caller skipped it, is done). A heap over one candidate per source keeps each step
 * O(log sources).
 */
export function* chunkEvictionOrder<T>(
  sources: Iterable<T>,
  candidateOf: CandidateOf<T>,
  policy: EvictionPolicy,
): Generator<{ source: T; candidate: ChunkCandidate }> {
  const heap: HeapEntry<T>[] = [];
  let rank = 0;
  const offer = (source: T, r: number, candidate: ChunkCandidate | null): void => {
    if (candidate !== null) push(heap, { value: policy.retentionValue(candidate), rank: r, source, candidate });
  };
  for (const source of sources) offer(source, rank++, candidateOf(source));
  while (heap.length > 0) {
    const top = pop(heap);
    yield { source: top.source, candidate: top.candidate };
    // Re-offered with its old rank so an LRU conversation keeps going until it is empty.
    const next = candidateOf(top.source);
    if (next !== null && next.chunkIndex !== top.candidate.chunkIndex) offer(top.source, top.rank, next);
  }
}

/** When a request last used a conversation's chunk (the chunk store's index); absent: the conversation's own last access. */
export type LastUse = (conv: ConversationState, c: number) => number;

/**
 * A conversation's candidate for chunk `c`, or null when c < 0. Its idle time is that of
 * the newest request that used the chunk, in this conversation or any other sharing it.
 */
export function candidateFor(conv: ConversationState, c: number, now: number, lastUse?: LastUse): ChunkCandidate | null {
  if (c < 0) return null;
  const used = Math.max(conv.lastAccess, lastUse?.(conv, c) ?? -Infinity);
  const contextLength = conv.contextLengthBefore(c);
  return {
    conversationId: conv.id,
    chunkIndex: c,
    contextLength,
    numTokens: Math.min(conv.chunkSize, conv.numTokens - contextLength),
    // A running conversation was used just now.
    idleMs: conv.owner !== null ? 0 : Math.max(0, now - used),
  };
}

/**
 * Idle conversations' device chunks in eviction order. The caller evicts each chunk
 * before asking for the next; the conversation's following chunk is then offered.
 */
export function* evictionOrder(
  conversations: Iterable<ConversationState>,
  policy: EvictionPolicy,
  now: number,
  lastUse?: LastUse,
): Generator<{ conv: ConversationState; chunk: number }> {
  const idle = [...conversations].filter((c) => c.idle);
  const order = chunkEvictionOrder(idle, (conv) => (conv.idle ? candidateFor(conv, conv.leadingDeviceChunk(), now, lastUse) : null), policy);
  for (const { source, candidate } of order) yield { conv: source, chunk: candidate.chunkIndex };
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

function less<T>(a: HeapEntry<T>, b: HeapEntry<T>): boolean {
  return a.value < b.value || (a.value === b.value && a.rank < b.rank);
}

function push<T>(heap: HeapEntry<T>[], e: HeapEntry<T>): void {
  heap.push(e);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(heap[i]!, heap[parent]!)) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

function pop<T>(heap: HeapEntry<T>[]): HeapEntry<T> {
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
