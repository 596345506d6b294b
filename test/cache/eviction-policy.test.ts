import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConversationState } from '../../src/cache/conversation-state.js';
import { LruPolicy, evictionOrder, type ChunkCandidate, type EvictionPolicy } from '../../src/cache/eviction-policy.js';

/** A conversation of `numTokens` on device, in fake block ids from `firstBlock`. */
function conv(id: string, numTokens: number, lastAccess: number, firstBlock: number): ConversationState {
  const c = new ConversationState(id, 16, 32, lastAccess);
  const blocks = Array.from({ length: Math.ceil(numTokens / 16) }, (_, i) => firstBlock + i);
  c.retain(Array.from({ length: numTokens }, (_, i) => i), blocks, [], 0, lastAccess);
  return c;
}

/** Evicts every offered chunk; returns "conversation:chunk" in order. */
function drain(convs: ConversationState[], policy: EvictionPolicy, now: number, limit = Infinity): string[] {
  const out: string[] = [];
  for (const { conv: c, chunk } of evictionOrder(convs, policy, now)) {
    c.dropChunk(chunk);
    out.push(`${c.id}:${chunk}`);
    if (out.length >= limit) break;
  }
  return out;
}

test('LRU empties the least recently used conversation first, leading chunk first', () => {
  const convs = [conv('new', 64, 50, 0), conv('old', 90, 10, 10), conv('mid', 32, 30, 20)];
  assert.deepEqual(drain(convs, new LruPolicy(), 100), ['old:0', 'old:1', 'old:2', 'mid:0', 'new:0', 'new:1']);
  assert.deepEqual(convs[1]!.chunks, ['dropped', 'dropped', 'dropped']);
});

test('running and queued conversations are never offered', () => {
  const running = conv('running', 64, 0, 0);
  running.owner = 'r1';
  const queued = conv('queued', 64, 0, 10);
  queued.pins = 1;
  const idle = conv('idle', 32, 90, 20);
  assert.deepEqual(drain([running, queued, idle], new LruPolicy(), 100), ['idle:0']);
});

test('a dropped prefix is skipped: eviction resumes at the leading device chunk', () => {
  const c = conv('c', 96, 0, 0);
  c.dropChunk(0);
  assert.deepEqual(drain([c], new LruPolicy(), 1), ['c:1', 'c:2']);
});

test('the policy seam sees context length and idle time, and can interleave conversations', () => {
  const seen: ChunkCandidate[] = [];
  // Pensieve's shape, V = Cost(l) / T with Cost linear in l: cheap, long-idle chunks first.
  const retention: EvictionPolicy = {
    name: 'retention',
    retentionValue(c) {
      seen.push(c);
      return (c.contextLength + 32) / c.idleMs;
    },
  };
  const a = conv('a', 96, 0, 0); // idle 100
  const b = conv('b', 64, 40, 10); // idle 60
  assert.deepEqual(drain([a, b], retention, 100), ['a:0', 'b:0', 'a:1', 'a:2', 'b:1']);
  const first = seen.find((c) => c.conversationId === 'a' && c.chunkIndex === 1)!;
  assert.deepEqual(first, { conversationId: 'a', chunkIndex: 1, contextLength: 32, numTokens: 32, idleMs: 100 });
  const last = seen.find((c) => c.conversationId === 'b' && c.chunkIndex === 1)!;
  assert.equal(last.numTokens, 32);
});

test('the order is lazy: stopping early evicts nothing more', () => {
  const a = conv('a', 96, 0, 0);
  assert.deepEqual(drain([a], new LruPolicy(), 10, 1), ['a:0']);
  assert.deepEqual(a.chunks, ['dropped', 'device', 'device']);
});
