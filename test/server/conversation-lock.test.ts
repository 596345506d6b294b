import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConversationLock } from '../../src/server/conversation-lock.js';

test('turns of one key run one at a time in arrival order; other keys do not wait', async () => {
  const lock = new ConversationLock();
  const log: string[] = [];
  const turn = (key: string, name: string, ms: number) =>
    lock.run(key, async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      return name;
    });
  const results = await Promise.all([turn('a', 'a1', 30), turn('a', 'a2', 1), turn('b', 'b1', 5), turn('a', 'a3', 1)]);
  assert.deepEqual(results, ['a1', 'a2', 'b1', 'a3']);
  assert.deepEqual(log.filter((l) => l.endsWith('a1') || l.endsWith('a2') || l.endsWith('a3')), [
    'start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3',
  ]);
  assert.ok(log.indexOf('end b1') < log.indexOf('end a1'), 'b ran while a1 held its key');
  assert.equal(lock.size, 0, 'idle keys are forgotten');
});

test('a failed turn releases its key for the next', async () => {
  const lock = new ConversationLock();
  await assert.rejects(lock.run('k', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await lock.run('k', async () => 'next'), 'next');
  assert.equal(await lock.run(null, async () => 'unkeyed'), 'unkeyed');
  assert.equal(lock.size, 0);
});
