// Token-mask cost of structured outputs on a real 151k vocabulary (Qwen2.5's tokenizer, from
// ../shared): per decode step and per sequence, the mask (cold: first time a state is seen;
// warm: the state's mask cached), its application to a row of logits, and the advance by the
// sampled token. 32 sequences step together with one schema, each picking a random allowed
// token, as a batch of 32 would. Issue 15's budget: ≤ 10% of a 32-sequence decode step
// (~200 ms on the Qwen2.5-0.5B shape on our CPU) — about 0.6 ms per sequence per step.
//
//   npm run bench:grammar -- [tokenizer dir] [steps]

import * as os from 'node:os';
import * as path from 'node:path';
import { Grammars, type GrammarMatcher } from '../src/engine/grammar/matcher.js';
import { Rng } from '../src/engine/sampler.js';
import { loadTokenizerFromDir } from '../src/model/tokenizer/index.js';

const dir = process.argv[2] ?? path.join(import.meta.dirname, '..', '..', 'shared', 'tokenizers', 'qwen2.5');
const STEPS = Number(process.argv[3] ?? 120);
const SEQS = 32;
const VOCAB = 151936; // Qwen2.5's logit rows (the tokenizer has 151665 ids; the rest is padding)

const SCHEMAS: Record<string, unknown> = {
  person: {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 40 },
      age: { type: 'integer', minimum: 0, maximum: 150 },
      email: { type: ['string', 'null'] },
      tags: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 5 },
    },
    required: ['name', 'age', 'email', 'tags'],
    additionalProperties: false,
  },
  nested: {
    type: 'object',
    properties: {
      items: {
        type: 'array',
        maxItems: 6,
        items: {
          type: 'object',
          properties: { id: { type: 'integer' }, kind: { enum: ['a', 'b', 'c'] }, score: { type: 'number' }, ok: { type: 'boolean' } },
          required: ['id', 'kind', 'score', 'ok'],
          additionalProperties: false,
        },
      },
      summary: { type: 'string' },
    },
    required: ['items', 'summary'],
    additionalProperties: false,
  },
  json_object: null,
};

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
}

const fmt = (ms: number) => ms.toFixed(3);

const t0 = performance.now();
const tokenizer = loadTokenizerFromDir(dir);
const t1 = performance.now();
const grammars = new Grammars(tokenizer, VOCAB);
void grammars.vocab;
const t2 = performance.now();
console.log(`load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} CPUs`);
console.log(`tokenizer ${fmt(t1 - t0)} ms, vocabulary index (bytes, tries, plain sets) ${fmt(t2 - t1)} ms, ${grammars.vocab.trie.byte.length} trie nodes`);

const logits = new Float32Array(VOCAB);
const rng = new Rng(1);
for (let i = 0; i < VOCAB; i++) logits[i] = rng.next() * 10;

for (const [name, schema] of Object.entries(SCHEMAS)) {
  for (const pass of ['cold', 'warm']) {
    const format = schema === null ? { type: 'json_object' as const } : { type: 'json_schema' as const, schema };
    const matchers: GrammarMatcher[] = Array.from({ length: SEQS }, () => grammars.matcher(format, new Set(tokenizer.eosIds)));
    const stepMs: number[] = [];
    const maskMs: number[] = [];
    const applyMs: number[] = [];
    const acceptMs: number[] = [];
    let done = 0;
    for (let step = 0; step < STEPS && done < SEQS; step++) {
      let engineMs = 0; // mask + apply + accept: what the engine pays (the random pick below is the bench's)
      done = 0;
      for (const m of matchers) {
        const a = performance.now();
        if (!m.canContinue()) {
          done++;
          continue;
        }
        const b = performance.now();
        const masked = m.apply(logits);
        const c = performance.now();
        // A random allowed token (the model's choice is what the logits would make it).
        const bits = m.mask();
        let pick = -1, seen = 0;
        for (let w = 0; w < bits.length; w++) {
          let word = bits[w]!;
          while (word !== 0) {
            const j = 31 - Math.clz32(word & -word);
            word &= word - 1;
            if (rng.next() * ++seen < 1) pick = w * 32 + j;
          }
        }
        if (masked[pick] === -Infinity) throw new Error('the mask and apply disagree');
        const d = performance.now();
        m.accept(pick);
        const e = performance.now();
        maskMs.push(b - a);
        applyMs.push(c - b);
        acceptMs.push(e - d);
        engineMs += c - a + (e - d);
      }
      stepMs.push(engineMs);
    }
    const perSeq = stepMs.map((ms) => ms / SEQS);
    console.log(
      `${name.padEnd(11)} ${pass}: ${stepMs.length} steps of ${SEQS} sequences; per sequence per step (mask + apply + accept): ` +
        ` ${fmt(percentile(perSeq, 0.5))} median / ${fmt(percentile(perSeq, 0.9))} p90 / ${fmt(Math.max(...perSeq))} max ms; ` +
        `mask ${fmt(percentile(maskMs, 0.5))} median / ${fmt(percentile(maskMs, 0.99))} p99 / ${fmt(Math.max(...maskMs))} max; ` +
        `apply ${fmt(percentile(applyMs, 0.5))} median / ${fmt(percentile(applyMs, 0.99))} p99; accept ${fmt(percentile(acceptMs, 0.5))} median / ${fmt(percentile(acceptMs, 0.99))} p99`,
    );
  }
}
console.log(`masks computed ${grammars.counters.masksComputed} (${fmt(grammars.counters.maskMs)} ms in all), cache hits ${grammars.counters.maskHits}`);
console.log(`load avg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
