// State that survives a restart: before a shutdown every idle chain's device and host
// chunks are copied to disk, most valuable first (persistAll); at start-up the chunk files
// found are adopted, unattached and indexed by key (adoptPersisted), until a prompt with
// their tokens comes (attachPersisted makes them a chain it continues; swap-in.ts
// planShared serves them to any other prompt sharing them).
import { hashChain, prefixHash } from './block-hash.js';
import type { ChunkTiers, PersistedChunk } from './chunk-tiers.js';
import * as eviction from './chunk-eviction.js';
import { NO_SLOT, type ConversationState } from './conversation-state.js';
import { NO_BLOCK } from './sequence.js';

/**
 * Before a shutdown: copies idle conversations' device and host chunks that have no disk
 * copy to disk, most valuable first, as far as the disk holds them (displacing only
 * entries of lower value), so that a restart finds them. Returns the chunks copied.
 */
export function persistAll(t: ChunkTiers): number {
  return persistIdle(t, Infinity);
}

/**
 * The same, at most `maxChunks` at a time: write-behind while serving, for a tier that every
 * chunk on disk is mirrored to (the KV tier shared by replicas), so that a replica that dies
 * without a drain has already shared its idle conversations, most valuable first.
 */
export function persistIdle(t: ChunkTiers, maxChunks: number): number {
  if (t.disk.capacity === 0) return 0;
  const now = t.ctx.clock();
  const { policy } = t.ctx;
  const wanted: { conv: ConversationState; c: number; value: number }[] = [];
  for (const conv of t.ctx.conversations.values()) {
    if (conv.owner !== null) continue;
    conv.chunks.forEach((where, c) => {
      if ((where === 'device' || where === 'host') && conv.disk[c] === NO_SLOT) wanted.push({ conv, c, value: policy.retentionValue(t.candidate(conv, c, now)!) });
    });
  }
  wanted.sort((a, b) => b.value - a.value);
  let copied = 0;
  for (const { conv, c, value } of wanted) {
    if (copied >= maxChunks) break;
    if (conv.chunks[c] !== 'device' && conv.chunks[c] !== 'host') continue; // dropped meanwhile
    const slot = eviction.obtainSlot(t, 'disk', conv, c, [], value);
    if (slot === null) break; // the disk is full of chunks worth more
    const meta = t.meta(conv, c);
    if (conv.chunks[c] === 'device') t.outbox.push({ op: 'save', blocks: conv.deviceBlocksOf(c), to: 'disk', slot, chunk: meta });
    else t.outbox.push({ op: 'copy', hostSlot: conv.host[c]!, slot, chunk: meta });
    conv.setSlot('disk', c, slot);
    t.counters.savedChunks.disk++;
    copied++;
  }
  return copied;
}

/**
 * Claims the disk slots of chunk files found at start-up. They wait, unattached and
 * indexed by key, for any request whose prompt has the same tokens (attachPersisted,
 * planShared). Returns the ones refused (slot out of range or taken, a second file of
 * the same chunk, tier off).
 */
export function adoptPersisted(t: ChunkTiers, chunks: readonly PersistedChunk[]): PersistedChunk[] {
  const refused: PersistedChunk[] = [];
  for (const p of chunks) {
    const owner = { conversationId: p.conversationId, chunk: p.chunkIndex, key: p.tokenHash, persisted: true };
    if (t.persisted.has(p.tokenHash) || !t.disk.adopt(p.slot, owner)) {
      refused.push(p);
      continue;
    }
    t.persisted.set(p.tokenHash, p);
  }
  return refused;
}

/**
 * Matches the chunk files found at start-up against a prompt: the chunks whose keys
 * equal the prompt's, up to the last one that matches (a short last chunk included),
 * become a new chain with the [dropped | disk] layout, which the request then continues
 * like any returning conversation. Only when they reach past `covered` tokens (what a
 * live chain already offers). Returns the chain, or null.
 */
export function attachPersisted(t: ChunkTiers, prompt: readonly number[], covered: number): ConversationState | null {
  if (t.persisted.size === 0) return null;
  const { blockSize: bs, chunkSize: cs, salt } = t.ctx;
  const chain = hashChain(prompt, bs, salt);
  const per = cs / bs;
  const full = Math.floor(prompt.length / cs);
  let last = -1;
  for (let c = full - 1; c >= 0 && last < 0; c--) if (t.persisted.has(chain[(c + 1) * per - 1]!)) last = c;
  const run: PersistedChunk[] = [];
  for (let c = last; c >= 0; c--) {
    const p = t.persisted.get(chain[(c + 1) * per - 1]!);
    if (p === undefined) break;
    run.unshift(p);
  }
  // A short chunk right after the run (the last chunk of the history that wrote it).
  const after = (last + 1) * cs;
  for (let n = Math.min(cs - 1, prompt.length - after); n > 0; n--) {
    const p = t.persisted.get(prefixHash(prompt, after + n, chain, bs, salt));
    if (p !== undefined && p.numTokens === n && p.chunkIndex === last + 1) {
      run.push(p);
      break;
    }
  }
  if (run.length === 0) return null;
  const tail = run[run.length - 1]!;
  const end = tail.chunkIndex * cs + tail.numTokens;
  if (end <= covered) return null;
  const now = t.ctx.clock();
  const conv = t.ctx.newChain(now);
  conv.retain(prompt.slice(0, end), new Array<number>(Math.ceil(end / bs)).fill(NO_BLOCK), chain.slice(0, Math.floor(end / bs)), tail.chunkIndex + 1, now);
  conv.lastAccess = Math.max(...run.map((p) => p.lastAccess));
  for (const p of run) {
    t.persisted.delete(p.tokenHash);
    conv.attachDiskChunk(p.chunkIndex, p.slot);
    t.disk.reassign(p.slot, { conversationId: conv.id, chunk: p.chunkIndex });
  }
  t.ctx.index.update(conv);
  return conv;
}
