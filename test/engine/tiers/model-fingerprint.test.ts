import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { modelFingerprint } from '../../../src/engine/tiers/model-fingerprint.js';
import { loadStories, tempDir } from './helpers.js';

test('a model file rewritten in place gets another disk-tier fingerprint; the same file keeps it', async () => {
  const model = await loadStories();
  const file = path.join(tempDir('pensieve-fp-'), 'model.gguf');
  fs.copyFileSync(model.source, file);
  const at = { ...model, source: file };
  const before = modelFingerprint(at);
  assert.equal(modelFingerprint(at), before);
  assert.match(before, /^stories260K@[0-9a-f]{16}$/);
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000)); // a fine-tune saved over it
  assert.notEqual(modelFingerprint(at), before);
  assert.notEqual(modelFingerprint({ ...at, config: { ...at.config, ropeTheta: 1 } }), modelFingerprint(at));
});
