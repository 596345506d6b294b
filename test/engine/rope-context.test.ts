// LongRoPE's short or long factor set (and dynamic NTK's base) follow the context the engine
// serves, --max-model-len, as llama.cpp's follow its n_ctx: a Phi-3 served within its original
// context rotates with the short factors even though the model could reach further. The tables
// are fixed at start-up, and K on disk is named by them (a chunk written under the long set is
// never read back under the short one).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { modelFingerprint } from '../../src/engine/tiers/model-fingerprint.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { configFromHf } from '../../src/model/config.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { loadModel, type LoadedModel } from '../../src/model/load.js';
import { fitVocab, ggufTokenizerKeys, randomTensors, saveGgufModel } from '../../src/model/random-model.js';
import { ropeInvFreq } from '../../src/model/rope.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { MemoryTensorStore } from '../../src/model/formats/memory-tensor-store.js';
import { MODELS, SHARED } from '../helpers/paths.js';

const configFile = path.resolve(import.meta.dirname, '../model/fixtures/architectures/phi3.config.json');
const phi3 = configFromHf(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-rope-context-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const tensors = randomTensors(phi3, { seed: 5, dtype: 'f32' });
let model: LoadedModel;

before(async () => {
  const file = path.join(work, 'phi3.gguf');
  const vocab = fitVocab(path.join(SHARED, 'tokenizers', 'qwen2.5'), phi3.vocabSize);
  saveGgufModel(file, phi3, tensors, { tokenizerKeys: ggufTokenizerKeys(vocab) });
  model = await loadModel(file);
});

/** Logits of every row of a 40-token prompt. */
function logits(t: Transformer): Float32Array {
  const tokens = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % phi3.vocabSize);
  const runner = new ModelRunner(t, new KvCache(t.config, 4, 16, 'f32'));
  return runner.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: [0, 1, 2, 3], contextLen: tokens.length, logits: 'all' }])[0]!;
}

function transformerFor(config: typeof phi3): Transformer {
  const store = new MemoryTensorStore('phi3', tensors);
  return new Transformer(config, loadWeights(config, store, nativeKernels), nativeKernels);
}

test('a Transformer set to a context within the original rotates as one built for that context; back again, as before', () => {
  const { originalMaxPositionEmbeddings } = phi3.ropeScaling as { originalMaxPositionEmbeddings: number };
  assert.equal(originalMaxPositionEmbeddings, 64);
  const t = transformerFor(phi3);
  assert.equal(t.contextLength, 4096);
  const long = logits(t);
  assert.equal(t.setContextLength(64), true, 'the short factors differ from the long ones');
  assert.equal(t.contextLength, 64);
  const short = logits(t);
  assert.notDeepEqual(short, long);
  assert.deepEqual(short, logits(transformerFor({ ...phi3, maxPositionEmbeddings: 64 })));
  assert.equal(t.setContextLength(65), true);
  assert.equal(t.setContextLength(4096), false, 'past the original context the long set stays');
  assert.deepEqual(logits(t), long);
  assert.throws(() => t.setContextLength(0), RangeError);
});

test('the engine gives the model its --max-model-len, and chunk files are named by the tables that gave', async () => {
  const kvCacheMemory = 512 * KvCache.bytesPerBlock(phi3, 16, 'f32');
  const opts = { kvCacheMemory, maxNumSeqs: 2, maxNumBatchedTokens: 64, cacheMode: 'pensieve' as const };
  const within = new Engine(model, { ...opts, maxModelLen: 64 });
  assert.equal(model.transformer.contextLength, 64);
  const shortId = modelFingerprint(model);
  await within.close();
  const beyond = new Engine(model, { ...opts, maxModelLen: 2048 });
  assert.equal(model.transformer.contextLength, 2048);
  const longId = modelFingerprint(model);
  assert.notEqual(shortId, longId);
  model.transformer.setContextLength(4096);
  assert.equal(modelFingerprint(model), longId, 'the same long tables: the same name, whatever the context');
  await beyond.close();
  // invFreq taken from the context: short set at 64, long past it.
  const rs = phi3.ropeScaling as { shortFactor: number[]; longFactor: number[] };
  assert.equal(rs.shortFactor[5], 1);
  assert.notEqual(ropeInvFreq(phi3, 64)[5], ropeInvFreq(phi3, 65)[5]);
});

test('a model whose RoPE does not depend on the context keeps its name whatever --max-model-len is', async () => {
  const stories = await loadModel(path.join(MODELS, 'stories260K', 'stories260K.gguf'));
  const before = modelFingerprint(stories);
  const e = new Engine(stories, { kvCacheMemory: 64 * KvCache.bytesPerBlock(stories.config), maxNumSeqs: 2, maxNumBatchedTokens: 64, cacheMode: 'prefix', maxModelLen: 100 });
  assert.equal(stories.transformer.contextLength, 100);
  assert.equal(modelFingerprint(stories), before);
  await e.close();
});
