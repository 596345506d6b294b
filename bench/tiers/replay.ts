// Retention value versus LRU on the same multi-turn replay: how many tokens each policy
// makes the engine recompute when the tiers hold less than the working set.
//
// The replay (seeded): conversations start over a window of time; each has a heavy-tailed
// number of turns (Zipf-like, P(k) ∝ k^-1.5 up to 20, as chat logs show: most end after a
// turn or two, and a conversation that has gone on is likely to go on), a long first
// message (a document, code) and shorter later ones, and an exponential think time
// between turns. Time is virtual:
// the engine's clock is the replay's, and compute takes none of it, so both policies see
// exactly the same arrivals and idle times whatever the machine. Arrivals within one
// virtual second are submitted together and run batched.
//
// Cost(l) is profiled on the model's full depth (--profile-layers, 24 as Qwen2.5-0.5B);
// the replay itself may run fewer layers (--layers): prompts are random tokens and every
// output has a fixed length, so what the cache decides depends on lengths, times and
// Cost(l) only, not on the weights, and the token counts are those of the full model.
//
// Run: npx tsx bench/tiers/replay.ts [--layers 1] [--profile-layers 24] [--conversations 80]
//        [--device-tokens 16384] [--host-tokens 16384] [--seeds 1,2,3]
import { parseArgs } from 'node:util';
import { Engine } from '../../src/engine/engine.js';
import { GREEDY } from '../../src/engine/sampler.js';
import { profileChunkCost, type CostProfile } from '../../src/engine/cost-profile.js';
import { ModelRunner } from '../../src/engine/model-runner.js';
import type { LoadedModel } from '../../src/model/load.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { qwenShapedModel, randomTokens } from './model.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '1' },
    'profile-layers': { type: 'string', default: '24' },
    conversations: { type: 'string', default: '80' },
    'device-tokens': { type: 'string', default: '16384' },
    'host-tokens': { type: 'string', default: '16384' },
    'think-s': { type: 'string', default: '60' },
    'first-tokens': { type: 'string', default: '128-2048' },
    seeds: { type: 'string', default: '1,2,3' },
  },
});

interface Turn {
  at: number;
  conv: number;
  turn: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The replay: per conversation its turn count, message lengths, output lengths and think times. */
function workload(n: number, seed: number, thinkS: number, first: [number, number]) {
  const r = rng(seed);
  const exp = (mean: number) => -Math.log(1 - r()) * mean;
  const between = (lo: number, hi: number) => Math.round(lo * Math.pow(hi / lo, r())); // log-uniform
  const zipf = Array.from({ length: 20 }, (_, k) => Math.pow(k + 1, -1.5));
  const zipfSum = zipf.reduce((a, b) => a + b, 0);
  const turnCount = () => {
    let u = r() * zipfSum;
    for (let k = 0; k < zipf.length; k++) if ((u -= zipf[k]!) <= 0) return k + 1;
    return zipf.length;
  };
  return Array.from({ length: n }, (_, c) => {
    const turns = turnCount();
    return {
      start: r() * n * 4 * 1000, // conversations begin over n × 4 virtual seconds
      messages: Array.from({ length: turns }, (_, t) => randomTokens(t === 0 ? between(...first) : between(16, 160), seed * 100000 + c * 100 + t)),
      outputs: Array.from({ length: turns }, () => between(8, 48)),
      thinks: Array.from({ length: turns }, () => exp(thinkS) * 1000),
    };
  });
}

async function replay(policy: 'retention' | 'lru', model: LoadedModel, profile: CostProfile, seed: number) {
  const first = values['first-tokens']!.split('-').map(Number) as [number, number];
  const convs = workload(Number(values.conversations), seed, Number(values['think-s']), first);
  const clock = { now: 0 };
  const blockBytes = KvCache.bytesPerBlock(model.config);
  const e = new Engine(model, {
    kvCacheMemory: (Number(values['device-tokens']) / 16) * blockBytes,
    kvHostMemory: (Number(values['host-tokens']) / 16) * blockBytes,
    maxNumSeqs: 16,
    maxNumBatchedTokens: 2048,
    cacheMode: 'pensieve',
    eviction: policy,
    chunkCost: profile.cost,
    clock: () => clock.now,
  });
  const queue: Turn[] = convs.map((c, i) => ({ at: c.start, conv: i, turn: 0 }));
  const histories = convs.map(() => [] as number[]);
  let turns = 0;
  let recomputeMs = 0;
  const cost = profile.cost;
  const t0 = performance.now();
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at);
    const now = queue[0]!.at;
    clock.now = now;
    const batch = queue.splice(0, queue.findIndex((t) => t.at >= now + 1000) === -1 ? queue.length : queue.findIndex((t) => t.at >= now + 1000));
    for (const t of batch) {
      const c = convs[t.conv]!;
      const prompt = [...histories[t.conv]!, ...c.messages[t.turn]!];
      e.add({ id: `c${t.conv}t${t.turn}`, promptTokens: prompt, conversationId: `c${t.conv}`, sampling: GREEDY, maxTokens: c.outputs[t.turn]!, ignoreEos: true });
      histories[t.conv] = prompt;
    }
    while (e.hasWork()) {
      for (const ev of e.step()) {
        if (ev.type === 'error') throw new Error(ev.message);
        if (ev.type !== 'finish') continue;
        const [conv, turn] = ev.requestId.slice(1).split('t').map(Number) as [number, number];
        histories[conv]!.push(...ev.outputTokens);
        turns++;
        // Recomputed tokens are a dropped prefix: chunk c cost Cost(32c) to compute again.
        for (let c = 0; c * 32 < ev.usage.recomputedTokens; c++) recomputeMs += cost(32 * c) * Math.min(1, (ev.usage.recomputedTokens - 32 * c) / 32);
        if (turn + 1 < convs[conv]!.messages.length) queue.push({ at: clock.now + convs[conv]!.thinks[turn]!, conv, turn: turn + 1 });
      }
    }
  }
  const s = e.stats();
  return { policy, turns, recomputeMs, seconds: (performance.now() - t0) / 1000, stats: s };
}

const layers = Number(values.layers);
const seeds = values.seeds!.split(',').map(Number);
console.log(`replay: ${values.conversations} conversations, first message ${values['first-tokens']} tokens, think time mean ${values['think-s']} s; device ${values['device-tokens']} tokens, host ${values['host-tokens']} tokens, no disk; Qwen2.5-0.5B shape (${values['profile-layers']} layers profiled, ${layers} run)`);
// One Cost(l) profile for every run: the retention policy's, and the yardstick of recompute time.
const profiled = await qwenShapedModel(Number(values['profile-layers']));
const profile = profileChunkCost(new ModelRunner(profiled.transformer, new KvCache(profiled.config, 256)), { maxContext: 32768, budgetMs: 6000 });
console.log(`Cost(l) profile (ms per 32-token chunk): ${profile.points.map((p) => `${p.contextLength}:${p.ms.toFixed(1)}`).join(' ')}`);
const model = await qwenShapedModel(layers);
console.log('| seed | policy | turns | prompt tokens | reused (device / host) | recomputed tokens | est. recompute time (Σ Cost(l)) | wall time |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
const sums = { retention: { tokens: 0, ms: 0 }, lru: { tokens: 0, ms: 0 } };
for (const seed of seeds) {
  for (const policy of ['retention', 'lru'] as const) {
    const r = await replay(policy, model, profile, seed);
    const s = r.stats;
    sums[policy].tokens += s.cache.recomputedTokens;
    sums[policy].ms += r.recomputeMs;
    console.log(`| ${seed} | ${policy} | ${r.turns} | ${s.cache.prefixCacheQueries} | ${s.servedTokens.device} / ${s.servedTokens.host} | ${s.cache.recomputedTokens} | ${(r.recomputeMs / 1000).toFixed(1)} s | ${r.seconds.toFixed(0)} s |`);
  }
}
const pct = (a: number, b: number) => (100 * (1 - a / b)).toFixed(1);
console.log(`over ${seeds.length} seeds, retention recomputes ${pct(sums.retention.tokens, sums.lru.tokens)}% fewer tokens than LRU and spends ${pct(sums.retention.ms, sums.lru.ms)}% less recompute time`);
