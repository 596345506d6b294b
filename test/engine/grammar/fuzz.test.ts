// The structured-output fuzz test: 240 random JSON Schemas, each generated against by the real
// stories260K model (which knows nothing of JSON: left alone it writes children's stories)
// through the engine, batched, with random, nucleus and greedy sampling. Every output must
// finish by itself, parse, and validate against its schema (an independent validator).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { Engine } from '../../../src/engine/engine.js';
import { GREEDY, Rng, type SamplingParams } from '../../../src/engine/sampler.js';
import { KvCache } from '../../../src/model/kv-cache.js';
import { loadModel, type LoadedModel } from '../../../src/model/load.js';
import type { ResponseFormat } from '../../../src/engine/grammar/format.js';
import { MODELS } from '../../helpers/paths.js';
import { SchemaGen, maxBytes, type Schema } from './random-schema.js';
import { validate } from './schema-validator.js';

let model: LoadedModel;
before(async () => {
  model = await loadModel(path.join(MODELS, 'stories260K', 'stories260K.gguf'));
});

const SCHEMAS = 240;
/** Room left in stories260K's 512 positions after the prompt: any schema's longest value fits it. */
const MAX_VALUE_BYTES = 440;

interface Run {
  text: string;
  reason: string | null;
  error: string | null;
}

/** Runs every request through one engine, batched; returns each one's text and finish reason. */
function generate(requests: Array<{ format: ResponseFormat; sampling: SamplingParams }>, maxTokens: number): Run[] {
  const engine = new Engine(model, {
    kvCacheMemory: 2048 * KvCache.bytesPerBlock(model.config),
    maxNumSeqs: 32,
    maxNumBatchedTokens: 512,
    cacheMode: 'stateless',
  });
  const prompt = model.tokenizer.encode('Once upon a time');
  const runs: Run[] = requests.map(() => ({ text: '', reason: null, error: null }));
  requests.forEach((r, i) => engine.add({ id: String(i), promptTokens: prompt, conversationId: null, sampling: r.sampling, maxTokens, responseFormat: r.format }));
  for (let guard = 0; engine.hasWork() && guard < 1_000_000; guard++) {
    for (const ev of engine.step()) {
      const run = runs[Number(ev.requestId)]!;
      if (ev.type === 'token') run.text += ev.text;
      else if (ev.type === 'finish') {
        run.text += ev.text;
        run.reason = ev.reason;
      } else run.error = ev.message;
    }
  }
  return runs;
}

function samplingFor(i: number): SamplingParams {
  if (i % 4 === 0) return GREEDY;
  if (i % 4 === 1) return { ...GREEDY, temperature: 0.8, topP: 0.9, seed: i };
  return { ...GREEDY, temperature: 1, seed: i };
}

test(`${SCHEMAS} random schemas: every constrained output finishes, parses and validates`, () => {
  const gen = new SchemaGen(new Rng(20261207));
  const schemas: Schema[] = [];
  while (schemas.length < SCHEMAS) {
    const s = gen.root();
    if (maxBytes(s) <= MAX_VALUE_BYTES) schemas.push(s);
  }
  const runs = generate(schemas.map((schema, i) => ({ format: { type: 'json_schema', schema }, sampling: samplingFor(i) })), 500);
  let chars = 0;
  runs.forEach((run, i) => {
    const where = `schema ${i} ${JSON.stringify(schemas[i])}\noutput ${JSON.stringify(run.text)}`;
    assert.equal(run.error, null, where);
    assert.equal(run.reason, 'stop', where);
    let value: unknown;
    assert.doesNotThrow(() => (value = JSON.parse(run.text)), where);
    assert.equal(validate(value, schemas[i]!), null, where);
    chars += run.text.length;
  });
  const sample = runs.slice(0, 3).map((r) => r.text).join('\n  ');
  console.log(`${runs.length} outputs valid, ${chars} characters in all; the first three:\n  ${sample}`);
});

test('json_object: any JSON object; with closing tokens favoured, outputs finish and parse as objects', () => {
  // Left alone the story model writes stories inside the strings and never closes them: a bias
  // toward the closing quote and brace lets values finish. The grammar alone keeps them valid.
  const id = (c: string) => model.tokenizer.tokenId(c) ?? model.tokenizer.encode(c, { addBos: false }).at(-1)!;
  const logitBias = [[id('"'), 10], [id('}'), 16], [id(']'), 16]] as const;
  const requests = Array.from({ length: 24 }, (_, i) => ({ format: { type: 'json_object' } as const, sampling: { ...samplingFor(i), logitBias } }));
  const runs = generate(requests, 400);
  let finished = 0;
  for (const run of runs) {
    assert.equal(run.error, null);
    if (run.reason === 'length') continue;
    assert.equal(run.reason, 'stop', run.text);
    const value: unknown = JSON.parse(run.text);
    assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), run.text);
    finished++;
  }
  console.log(`json_object: ${finished} of ${runs.length} finished within 400 tokens, all objects; e.g. ${runs.filter((r) => r.reason === "stop").map((r) => r.text).sort((a, b) => b.length - a.length)[0]}`);
  assert.ok(finished >= 12, `only ${finished} of ${runs.length} finished`);
});

test('a schema too ambiguous for the automaton fails its own request; the others in the batch finish', () => {
  const inner = { anyOf: Array.from({ length: 40 }, () => ({ type: 'integer' })) };
  const outer = { anyOf: Array.from({ length: 40 }, () => ({ type: 'object', properties: { x: inner }, required: ['x'] })) };
  const runs = generate([
    { format: { type: 'json_schema', schema: outer }, sampling: GREEDY },
    { format: { type: 'json_schema', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, sampling: GREEDY },
  ], 100);
  assert.match(runs[0]!.error ?? '', /too ambiguous/);
  assert.equal(runs[1]!.reason, 'stop');
  assert.equal(typeof (JSON.parse(runs[1]!.text) as { ok: unknown }).ok, 'boolean');
});
