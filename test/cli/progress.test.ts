// Load progress without a terminal: a line per 10% step or every few seconds, never silent, never a flood.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressLines } from '../../src/cli/progress.js';

test('without a TTY, progress prints a line at each 10% step and at the end', () => {
  const lines: string[] = [];
  const tick = progressLines('loading', (l) => lines.push(l), () => 0);
  for (let done = 1; done <= 200; done++) tick(done, 200);
  assert.deepEqual(lines, [
    'loading: 0% (1/200)', 'loading: 10% (20/200)', 'loading: 20% (40/200)', 'loading: 30% (60/200)', 'loading: 40% (80/200)',
    'loading: 50% (100/200)', 'loading: 60% (120/200)', 'loading: 70% (140/200)', 'loading: 80% (160/200)', 'loading: 90% (180/200)',
    'loading: 100% (200/200)',
  ]);
});

test('a slow step still prints a line every few seconds', () => {
  const lines: string[] = [];
  let now = 0;
  const tick = progressLines('loading', (l) => lines.push(l), () => now);
  tick(1, 1000); // 0%
  now = 1000;
  tick(2, 1000); // same step, 1 s later: quiet
  now = 3500;
  tick(3, 1000); // same step, 3.5 s later: a line
  assert.deepEqual(lines, ['loading: 0% (1/1000)', 'loading: 0% (3/1000)']);
});
