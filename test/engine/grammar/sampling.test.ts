// The sampler's logit-mask hook with a grammar matcher: greedy picks the best allowed token,
// random sampling never draws a refused one, and penalties or a +100 bias cannot bring a
// refused token back. The row the model produced is left as it was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Grammars } from '../../../src/engine/grammar/matcher.js';
import { GREEDY, Rng, Sampler } from '../../../src/engine/sampler.js';
import { byteTokenizer } from '../../../src/model/tokenizer/index.js';

const tok = byteTokenizer();
const id = (c: string) => c.charCodeAt(0) + 3; // the byte vocabulary: id = byte + 3
const EOS = new Set(tok.eosIds);

function matcher(schema: unknown) {
  return new Grammars(tok, tok.vocabSize).matcher({ type: 'json_schema', schema }, EOS);
}

test('greedy: the best allowed token, not the best token', () => {
  const m = matcher({ enum: ['yes', 'no'] });
  const logits = new Float32Array(tok.vocabSize).fill(0);
  logits[id('{')] = 9;
  logits[id('"')] = 1;
  const before = Float32Array.from(logits);
  const s = new Sampler(GREEDY, [], m);
  assert.equal(s.sample(logits), id('"'));
  assert.deepEqual(logits, before, 'the model row is untouched');
});

test('random sampling draws only allowed tokens; bias and penalties do not resurrect refused ones', () => {
  const rng = new Rng(5);
  const m = matcher({ type: 'object', properties: { k: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['k'] });
  const biasAll = Array.from({ length: 40 }, (_, i) => [i + 3 + 0x20, 100] as const);
  const s = new Sampler({ ...GREEDY, temperature: 1.5, seed: 9, presencePenalty: -2, logitBias: biasAll }, [], m);
  let text = '';
  for (let step = 0; step < 40 && m.canContinue(); step++) {
    const logits = Float32Array.from({ length: tok.vocabSize }, () => rng.next() * 4);
    const t = s.sample(logits);
    assert.ok(m.allows(t), `step ${step}: drew ${t} after ${JSON.stringify(text)}`);
    if (EOS.has(t)) break;
    m.accept(t);
    s.accept(t);
    text += String.fromCharCode(t - 3);
  }
  const value = JSON.parse(text) as { k: number };
  assert.ok(Number.isInteger(value.k) && value.k >= 0 && value.k <= 99, text);
  assert.equal(m.accepting, true);
});

test('end-of-sequence is drawn only once the value is complete', () => {
  const m = matcher({ const: 'ab' });
  const logits = new Float32Array(tok.vocabSize).fill(0);
  logits[tok.eosIds[0]!] = 50;
  const s = new Sampler(GREEDY, [], m);
  for (const c of '"ab"') {
    assert.notEqual(s.sample(logits), tok.eosIds[0]);
    m.accept(id(c));
  }
  assert.equal(s.sample(logits), tok.eosIds[0]);
});
