// A 200-conversation replay through small tiers: after every engine step, each tier holds
// no more than its configured capacity (device blocks, host bytes, bytes of chunk files
// in the disk directory), however chunks move between them.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { Engine } from '../../../src/engine/engine.js';
import { GREEDY } from '../../../src/engine/sampler.js';
import type { LoadedModel } from '../../../src/model/load.js';
import { randomInt } from '../../helpers/random.js';
import { chunkBytes, drain, loadStories, tempDir, tieredEngine } from './helpers.js';

let model: LoadedModel;
before(async () => {
  model = await loadStories();
});

function directoryBytes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir, { recursive: true }).map(String)) {
    const st = fs.statSync(path.join(dir, f), { throwIfNoEntry: false });
    if (st?.isFile()) n += st.size;
  }
  return n;
}

test('200 conversations: device blocks, host bytes and disk bytes never exceed their limits', async (t) => {
  const rand = randomInt(200);
  const dir = tempDir('pensieve-capacity-');
  const tiers = { deviceBlocks: 32, hostChunks: 8, diskChunks: 24, diskDir: dir };
  const e: Engine = tieredEngine(model, tiers, { maxNumSeqs: 6 });
  const limits = {
    device: tiers.deviceBlocks,
    hostBytes: tiers.hostChunks * chunkBytes(model),
    diskBytes: tiers.diskChunks * (chunkBytes(model) + 4096),
  };
  const peak = { device: 0, hostBytes: 0, diskBytes: 0, stagingBytes: 0 };
  let steps = 0;
  const check = () => {
    const s = e.stats();
    assert.ok(s.cache.usedBlocks <= limits.device);
    assert.ok(s.tiers.host.usedBytes <= limits.hostBytes, `host ${s.tiers.host.usedBytes} > ${limits.hostBytes}`);
    assert.ok(s.io.hostAllocatedBytes <= limits.hostBytes, 'host memory allocated');
    assert.ok(s.tiers.disk.usedBytes <= limits.diskBytes, `disk ${s.tiers.disk.usedBytes} > ${limits.diskBytes}`);
    // What is really in the directory, temporary files included, every few steps.
    if (steps++ % 5 === 0) {
      const onDisk = directoryBytes(dir);
      assert.ok(onDisk <= limits.diskBytes, `disk directory ${onDisk} > ${limits.diskBytes}`);
      peak.diskBytes = Math.max(peak.diskBytes, onDisk);
    }
    peak.device = Math.max(peak.device, s.cache.usedBlocks);
    peak.hostBytes = Math.max(peak.hostBytes, s.tiers.host.usedBytes);
    peak.stagingBytes = Math.max(peak.stagingBytes, s.io.stagingBytes);
  };

  const histories = new Map<string, number[]>();
  const turnsLeft = new Map(Array.from({ length: 200 }, (_, i) => [`c${i}`, 1 + rand(3)]));
  let next = 0;
  while (turnsLeft.size > 0) {
    const open = [...turnsLeft.keys()];
    const batch = [...new Set(Array.from({ length: 1 + rand(8) }, () => open[rand(open.length)]!))];
    for (const conv of batch) {
      const prompt = [...(histories.get(conv) ?? [1]), ...Array.from({ length: 8 + rand(40) }, () => 10 + rand(490))];
      e.add({ id: `r${next++}`, promptTokens: prompt, conversationId: conv, sampling: GREEDY, maxTokens: 4 + rand(16) });
      histories.set(conv, prompt);
      const left = turnsLeft.get(conv)! - 1;
      if (left === 0) turnsLeft.delete(conv);
      else turnsLeft.set(conv, left);
    }
    const done = await drain(e, check);
    assert.equal(done.size, batch.length);
  }
  await e.close();
  check();
  const s = e.stats();
  t.diagnostic(`peaks: ${JSON.stringify(peak)}; limits: ${JSON.stringify(limits)}; conversations kept: ${s.cache.conversations}`);
  assert.equal(s.cache.conversations, 200);
  assert.ok(s.cache.tiers.droppedChunks > 0, 'the replay overflowed every tier');
  assert.ok(peak.device >= limits.device - 2 && peak.hostBytes === limits.hostBytes, 'device and host filled up');
  assert.ok(peak.diskBytes > limits.diskBytes / 2, 'the disk filled up');
  fs.rmSync(dir, { recursive: true, force: true });
});
