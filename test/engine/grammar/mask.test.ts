// The token mask against brute force: for states met along real constrained generations, the
// trie walk (and its plain-string shortcut) allows exactly the tokens whose bytes the automaton
// accepts one by one — on the stories260K SentencePiece vocabulary and on Qwen2.5's 151k
// byte-level BPE one. And the matcher: end-of-sequence only once the value is complete.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { advanceBytes, type Stack } from '../../../src/engine/grammar/automaton.js';
import { Grammars, type GrammarMatcher } from '../../../src/engine/grammar/matcher.js';
import { computeMask, has } from '../../../src/engine/grammar/mask.js';
import { compileSchema } from '../../../src/engine/grammar/schema.js';
import { buildVocab, buildTrie, type Vocab } from '../../../src/engine/grammar/vocab.js';
import { Rng } from '../../../src/engine/sampler.js';
import { loadLlama2cTokenizer, loadTokenizerFromDir, type Tokenizer } from '../../../src/model/tokenizer/index.js';
import { MODELS, SHARED } from '../../helpers/paths.js';

const TOKENIZERS = path.join(SHARED, 'tokenizers');

let stories: Tokenizer;
let qwen: Tokenizer;
before(() => {
  stories = loadLlama2cTokenizer(path.join(MODELS, 'stories260K', 'tok512.bin'), 512);
  qwen = loadTokenizerFromDir(path.join(TOKENIZERS, 'qwen2.5'));
});

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    kind: { enum: ['cat', 'dog', 'a "quoted" one'] },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    score: { type: 'number' },
    tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 4 }, maxItems: 3 },
    note: { type: ['string', 'null'] },
  },
  required: ['name', 'kind', 'age', 'tags'],
  additionalProperties: false,
};

/** What the mask should be: every token whose bytes the automaton accepts, checked one by one. */
function bruteForce(m: { grammar: Parameters<typeof computeMask>[0] }, vocab: Vocab, stacks: readonly Stack[], ids: Iterable<number>): Set<number> {
  const out = new Set<number>();
  for (const id of ids) {
    const b = vocab.bytes[id];
    if (b && advanceBytes(m.grammar, stacks, b) !== null) out.add(id);
  }
  return out;
}

/** Walks a random constrained generation, checking the mask at every step against brute force over `ids`. */
function checkAlong(tokenizer: Tokenizer, vocab: Vocab, seed: number, ids: (vocab: Vocab) => Iterable<number>, steps: number): number {
  const grammar = compileSchema(SCHEMA);
  const rng = new Rng(seed);
  const grammars = new Grammars(tokenizer, tokenizer.vocabSize);
  const matcher = grammars.matcher({ type: 'json_schema', schema: SCHEMA }, new Set(tokenizer.eosIds));
  let checked = 0;
  for (let step = 0; step < steps && matcher.canContinue(); step++) {
    const stacks = (matcher as unknown as { stacks: Stack[] }).stacks;
    const mask = computeMask(grammar, vocab, stacks);
    const want = bruteForce({ grammar }, vocab, stacks, ids(vocab));
    for (const id of ids(vocab)) {
      if (has(mask, id) !== want.has(id)) assert.fail(`step ${step}: token ${id} ${JSON.stringify(tokenizer.decode([id]))}: mask ${has(mask, id)}, brute force ${want.has(id)}`);
    }
    checked++;
    // The path follows the whole mask (the checked ids may be a sample of the vocabulary).
    const allowed: number[] = [];
    for (let id = 0; id < vocab.size; id++) if (has(mask, id)) allowed.push(id);
    if (allowed.length === 0) break;
    matcher.accept(allowed[Math.floor(rng.next() * allowed.length)]!);
  }
  return checked;
}

test('the trie is a preorder trie: every token found under its bytes, subtrees contiguous', () => {
  const enc = new TextEncoder();
  const words = ['a', 'ab', 'abc', 'b', 'ba', '', 'abd', 'ab'].map((w, id) => ({ id, bytes: enc.encode(w) })).filter((t) => t.bytes.length > 0);
  const trie = buildTrie(words);
  const found = new Map<string, number[]>();
  const walk = (node: number, prefix: string) => {
    const ids = Array.from(trie.tokenIds.subarray(trie.tokenStart[node]!, trie.tokenStart[node + 1]!));
    if (ids.length > 0) found.set(prefix, ids);
    for (let c = node + 1; c < trie.end[node]!; c = trie.end[c]!) walk(c, prefix + String.fromCharCode(trie.byte[c]!));
  };
  walk(0, '');
  assert.deepEqual(Object.fromEntries(found), { a: [0], ab: [1, 7], abc: [2], abd: [6], b: [3], ba: [4] });
});

test('the mask equals brute force along random generations (stories260K vocabulary, every token)', () => {
  let checked = 0;
  const vocab = buildVocab(stories);
  for (let seed = 1; seed <= 6; seed++) checked += checkAlong(stories, vocab, seed, (v) => Array.from({ length: v.size }, (_, i) => i), 120);
  console.log(`stories260K: ${checked} states checked against all 512 tokens`);
  assert.ok(checked > 100, `only ${checked} states`);
});

test('the mask equals brute force along random generations (Qwen2.5, 151k tokens, sampled)', () => {
  // Every token with a quote, backslash or control byte, plus a random fifth of the rest.
  let checked = 0;
  const vocab = buildVocab(qwen);
  for (let seed = 1; seed <= 3; seed++) {
    const rng = new Rng(100 + seed);
    let cached: number[] | null = null;
    const ids = (v: Vocab) => (cached ??= Array.from({ length: v.size }, (_, i) => i).filter((i) => {
      const b = v.bytes[i];
      return b !== null && (b.some((x) => x === 0x22 || x === 0x5c || x < 0x20) || rng.next() < 0.1);
    }));
    checked += checkAlong(qwen, vocab, seed, ids, 40);
  }
  console.log(`qwen2.5: ${checked} states checked`);
  assert.ok(checked >= 30, `only ${checked} states`);
});

test('the matcher: end-of-sequence only when the value is complete; it masks logits and advances', () => {
  const grammars = new Grammars(qwen, 151936);
  const eos = new Set(qwen.eosIds);
  const m: GrammarMatcher = grammars.matcher({ type: 'json_schema', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, eos);
  for (const text of ['{"', 'ok', '":', 'true']) {
    assert.equal(m.accepting, false);
    for (const id of eos) assert.equal(m.allows(id), false);
    for (const id of qwen.encode(text)) m.accept(id);
  }
  const close = qwen.encode('}');
  assert.equal(m.allows(close[0]!), true);
  assert.equal(m.allows(qwen.encode(']')[0]!), false);
  m.accept(close[0]!);
  assert.equal(m.accepting, true);
  assert.equal(m.canContinue(), false, 'nothing may follow the closed object');
  const logits = new Float32Array(151936).fill(1);
  const masked = m.apply(logits);
  for (const id of eos) assert.equal(masked[id], 1);
  assert.equal(masked.filter((x) => x !== -Infinity).length, eos.size);
  assert.throws(() => m.accept(close[0]!), /does not fit/);
});

test('a plain-text token longer than the room left in a string is masked out', () => {
  const grammars = new Grammars(qwen, 151936);
  const m = grammars.matcher({ type: 'json_schema', schema: { type: 'string', maxLength: 3 } }, new Set(qwen.eosIds));
  m.accept(qwen.encode('"')[0]!);
  const ab = qwen.encode('ab'), abcd = qwen.encode('abcd');
  assert.equal(ab.length, 1);
  assert.equal(abcd.length, 1);
  assert.equal(m.allows(ab[0]!), true);
  assert.equal(m.allows(abcd[0]!), false);
  m.accept(ab[0]!);
  assert.equal(m.allows(qwen.encode('"')[0]!), true);
});
