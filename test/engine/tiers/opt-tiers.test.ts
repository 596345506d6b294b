// OPT (the paper's family) through the tiers: a conversation whose chunks sit dropped, on disk,
// in host memory and on the device is restored in one pass and continues exactly as a stateless
// recomputation does. OPT's learned absolute positions make this the check that a recomputed
// prefix and a swapped-in chunk keep their positions.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { GREEDY } from '../../../src/engine/sampler.js';
import { configFromHf } from '../../../src/model/config.js';
import { loadModel, type LoadedModel } from '../../../src/model/load.js';
import { fitVocab, randomTensors, saveHfModel, saveHfTokenizer } from '../../../src/model/random-model.js';
import { SHARED } from '../../helpers/paths.js';
import { randomInt } from '../../helpers/random.js';
import { drain, statelessOutputs, tempDir, tieredEngine } from './helpers.js';

let model: LoadedModel;
before(async () => {
  const file = new URL('../../model/fixtures/opt/opt-tiny.config.json', import.meta.url).pathname;
  const config = configFromHf({ ...JSON.parse(fs.readFileSync(file, 'utf8')), max_position_embeddings: 512 }, file);
  const dir = path.join(tempDir('pensieve-opt-tiers-'), 'opt');
  saveHfModel(dir, config, randomTensors(config, { seed: 3, dtype: 'f32', std: 1 / Math.sqrt(config.hiddenSize) }));
  saveHfTokenizer(dir, fitVocab(path.join(SHARED, 'tokenizers', 'qwen2.5'), config.vocabSize));
  model = await loadModel(dir);
});

const tokens = (n: number, seed: number) => {
  const r = randomInt(seed);
  return Array.from({ length: n }, () => 10 + r(990));
};

test('an OPT conversation restored from device, host and disk chunks plus a recomputed prefix matches stateless recomputation', async () => {
  assert.equal(model.config.architecture, 'opt');
  const e = tieredEngine(model, { deviceBlocks: 16, hostChunks: 1, diskChunks: 1, diskDir: tempDir('pensieve-opt-restore-') },
    { chunkCost: (l: number) => 1 + l / 32, swapOutThreshold: 0 });
  const a = tokens(150, 1);
  e.add({ id: 'a1', promptTokens: a, conversationId: 'a', sampling: GREEDY, maxTokens: 4 });
  const a1 = (await drain(e)).get('a1')!;
  e.add({ id: 'b1', promptTokens: tokens(185, 2), conversationId: 'b', sampling: GREEDY, maxTokens: 4 });
  await drain(e);
  assert.deepEqual(e.kv.conversation('a')!.chunks, ['dropped', 'disk', 'host', 'device', 'device']);

  const prompt = [...a, ...a1.outputTokens, ...tokens(10, 3)];
  e.add({ id: 'a2', promptTokens: prompt, conversationId: 'a', sampling: GREEDY, maxTokens: 8 });
  const a2 = (await drain(e)).get('a2')!;
  const [expected] = await statelessOutputs(model, [{ prompt, maxTokens: 8 }]);
  assert.deepEqual(a2.outputTokens, expected);
  assert.equal(a2.usage.recomputedTokens, 32);
  assert.deepEqual({ host: a2.usage.cachedByTier.host, disk: a2.usage.cachedByTier.disk }, { host: 32, disk: 32 });
  await e.close();
});
