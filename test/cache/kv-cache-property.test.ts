// Hundreds of random requests, turns, edits, branches, preemptions and drops over a small
// pool, with the bookkeeping invariants and the content of every computed slot checked
// after each operation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TierCapacities } from '../../src/cache/chunk-tiers.js';
import { RetentionPolicy } from '../../src/cache/eviction-policy.js';
import { KvCacheManager, type CacheMode } from '../../src/cache/kv-cache-manager.js';
import { FakeEngine, checkInvariants } from './harness.js';
import { randomInt } from '../helpers/random.js';

interface Waiting {
  rid: string;
  tokens: number[];
  conv: string | null;
}

function run(mode: CacheMode, seed: number, ops: number, tiers?: TierCapacities, retention = false): void {
  const rand = randomInt(seed);
  const clock = { now: 0 };
  const policy = retention ? new RetentionPolicy((l) => 1 + l / 64) : undefined;
  const m = new KvCacheManager({ numBlocks: 16, mode, salt: 'prop', clock: () => clock.now, tiers, policy });
  const e = new FakeEngine(m);
  // Shared system prompts make prefix-cache hits between unrelated requests common.
  const systems = [[], Array.from({ length: 20 }, (_, i) => i + 1), Array.from({ length: 40 }, (_, i) => 2 * i + 3)];
  const words = (n: number) => Array.from({ length: n }, () => rand(4));
  const convIds = Array.from({ length: 10 }, (_, i) => `c${i}`);
  const transcripts = new Map<string, number[]>();
  const running = new Map<string, string | null>();
  const waiting: Waiting[] = [];
  const pins = new Map<string, number>();
  let next = 0;
  let restored = 0;
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;

  const begin = (w: Waiting) => {
    if (w.conv !== null && tiers !== undefined) {
      // The engine swaps a conversation's lower-tier chunks in before admitting its
      // request; sometimes they do not fit, or it skips them, and they are recomputed.
      const items = m.prepareConversation(w.conv, w.tokens);
      if (rand(5) !== 0 && m.restoreConversation(w.conv, items)) restored += items.length;
      e.sync();
    }
    const match = m.beginRequest(w.rid, w.tokens, w.conv);
    assert.equal(match.numCachedTokens + match.computeRanges.reduce((s, r) => s + r.end - r.start, 0), w.tokens.length);
    if (mode === 'stateless') assert.equal(match.numCachedTokens, 0);
    running.set(w.rid, w.conv);
  };
  const end = (rid: string, how: 'finish' | 'preempt') => {
    const conv = running.get(rid)!;
    const tokens = [...m.sequence(rid)!.tokens];
    running.delete(rid);
    if (how === 'preempt') {
      m.preempt(rid);
      waiting.push({ rid, tokens, conv });
    } else {
      m.finishRequest(rid);
      if (conv !== null) transcripts.set(conv, tokens);
    }
  };

  // Pinned conversations must come out of a scheduling step untouched.
  const pinnedLayout = () =>
    [...pins].filter(([c, n]) => n > 0 && m.conversation(c)?.owner === null).map(([c]) => `${c}:${m.conversation(c)!.blocks.join(',')}`);
  for (let op = 0; op < ops; op++) {
    clock.now += rand(5);
    const r = rand(100);
    const pinnedBefore = pinnedLayout();
    if (r < 28 && running.size < 3) {
      if (waiting.length > 0 && rand(2) === 0) {
        begin(waiting.splice(rand(waiting.length), 1)[0]!);
      } else {
        const conv = rand(10) < 3 ? null : pick(convIds);
        let history = conv === null ? [] : transcripts.get(conv) ?? [];
        if (history.length > 100 || rand(7) === 0) history = history.slice(0, rand(history.length + 1));
        const prompt = history.length > 0 ? [...history, ...words(1 + rand(30))] : [...pick(systems), ...words(1 + rand(40))];
        begin({ rid: `r${next++}`, tokens: prompt, conv });
      }
    } else if (r < 70 && running.size > 0) {
      const rid = pick([...running.keys()]);
      const pending = m.sequence(rid)!.numPending;
      if (pending === 0) {
        m.appendToken(rid, rand(4));
      } else if (e.step(rid, 1 + rand(Math.min(pending, 24))) !== null) {
        const after = pinnedLayout();
        for (const layout of pinnedBefore) assert.ok(after.includes(layout), `pinned ${layout} was evicted`);
      } else {
        // Out of memory with nothing evictable: the scheduler preempts someone else.
        const others = [...running.keys()].filter((x) => x !== rid);
        if (others.length > 0) end(pick(others), 'preempt');
      }
    } else if (r < 80 && running.size > 0) {
      end(pick([...running.keys()]), 'finish');
    } else if (r < 84 && running.size > 0) {
      end(pick([...running.keys()]), 'preempt');
    } else if (r < 86 && tiers !== undefined) {
      if (rand(10) === 0) m.persistAll(); // as before a shutdown
      else m.swapOutAhead(0.5, 1 + rand(3));
    } else if (r < 87 && tiers !== undefined && rand(3) === 0) {
      // A disk file turned out corrupt, or a write failed.
      const used = [...m.lowerSlots('disk').used()];
      if (used.length > 0) {
        const [slot] = pick(used);
        m.lostChunk('disk', slot);
        e.lower.disk.delete(slot);
      }
    } else if (r < 87) {
      const c = pick(convIds);
      m.dropConversation(c);
      transcripts.delete(c);
      pins.delete(c); // its pins go with it
    } else if (r < 94) {
      const c = pick(convIds);
      if ((pins.get(c) ?? 0) === 0) {
        m.pinConversation(c);
        pins.set(c, (pins.get(c) ?? 0) + 1);
      } else {
        m.unpinConversation(c);
        pins.set(c, pins.get(c)! - 1);
      }
    } else {
      const [from, to] = [pick(convIds), pick(convIds)];
      const src = m.conversation(from);
      const busy = m.conversation(to)?.owner != null;
      if (src !== undefined && from !== to && !busy) {
        const n = rand(src.tokens.length + 1);
        assert.ok(m.forkConversation(from, to, n));
        transcripts.set(to, src.tokens.slice(0, n));
      }
    }
    e.sync();
    checkInvariants(m);
    e.verifyContent();
  }

  const s = m.stats();
  assert.ok(s.prefixCacheHits <= s.prefixCacheQueries);
  if (mode !== 'stateless') assert.ok(s.prefixCacheHits > 0, 'the workload was meant to reuse something');
  if (mode === 'pensieve') assert.ok(s.evictedChunks > 0, 'the pool was meant to be under pressure');
  if (tiers !== undefined) {
    const t = s.tiers;
    if (tiers.hostChunks > 0) assert.ok(t.loadedChunks.host > 0 && t.savedChunks.host > 0, 'host swaps happened');
    if (tiers.diskChunks > 0) assert.ok(t.loadedChunks.disk > 0 && t.savedChunks.disk + t.demotedChunks > 0, `disk swaps happened (seed ${seed}): ${JSON.stringify(t)}`);
    assert.ok(t.aheadOfTimeChunks > 0 && t.reclaimedChunks > 0, 'ahead-of-time copies were made and used');
    assert.ok(t.droppedChunks > 0, 'the tiers were meant to overflow');
    assert.ok(restored > 0);
  }
  for (const rid of [...running.keys()]) m.finishRequest(rid);
  for (const [c, n] of pins) for (let i = 0; i < n; i++) m.unpinConversation(c);
  for (const c of m.chainIds()) m.dropChain(c);
  e.sync();
  checkInvariants(m);
  assert.equal(m.blocks.numFree, m.blocks.numBlocks, 'everything comes back');
  assert.equal(m.lowerSlots('host').numUsed + m.lowerSlots('disk').numUsed, 0, 'every lower-tier slot comes back');
  assert.equal(e.lower.host.size + e.lower.disk.size, 0, 'every released slot was told to the engine');
}

for (const mode of ['stateless', 'prefix', 'pensieve'] as const) {
  test(`${mode}: invariants and slot contents hold over random operations`, () => {
    for (const seed of [1, 2, 3, 4]) run(mode, seed, 1000);
  });
}

for (const [name, tiers] of [
  ['host and disk', { hostChunks: 4, diskChunks: 6 }],
  ['host only', { hostChunks: 5, diskChunks: 0 }],
  ['disk only', { hostChunks: 0, diskChunks: 6 }],
] as const) {
  test(`pensieve with ${name} tiers: chunks keep their KV through every move, within capacity`, () => {
    for (const seed of [1, 2, 3, 4]) run('pensieve', seed, 1500, tiers, seed % 2 === 0);
  });
}
