import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/index.js';
import { tempDir, tokenRange } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/commit-and-kill.ts', import.meta.url));

/** Runs the fixture to its SIGKILL and returns the conversation id and the turns it reported. */
function commitAndKill(dir: string, turns: number, mode: 'after-commit' | 'mid-turn'): { convId: string; reported: number } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, dir, String(turns), mode], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', `child should die by SIGKILL; stderr:\n${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  const convId = lines[0]!.replace(/^conv /, '');
  assert.ok(!lines.includes('mid-turn commit returned'));
  // No clean close ran: SQLite removes the -wal file on close, so its presence (non-empty)
  // shows the committed turns are only in the WAL and recovery is what the reopen exercises.
  const wal = join(dir, 'pensieve.db-wal');
  assert.ok(existsSync(wal) && statSync(wal).size > 0, 'the WAL of a killed process is left behind');
  return { convId, reported: lines.filter((l) => l.startsWith('turn ')).length };
}

function assertTurns(store: Store, convId: string, turns: number): void {
  const items = store.allItems(null, convId);
  assert.ok(items, 'the conversation survives');
  assert.deepEqual(
    items.map((i) => i.id),
    Array.from({ length: turns }, (_, i) => [`msg_q${i + 1}`, `msg_a${i + 1}`]).flat(),
  );
  assert.deepEqual(store.getTokenHistory(null, convId), { tokens: tokenRange(1000 * turns), text: '', model: 'crash-model' });
  assert.deepEqual(
    store.responseChain(null, `resp_turn${turns}`)?.map((r) => r.id),
    Array.from({ length: turns }, (_, i) => `resp_turn${i + 1}`),
  );
  assert.deepEqual(store.getConversation(null, convId)?.metadata, { crash: 'test' });
}

test('every turn committed before a SIGKILL is there after reopening', () => {
  const { dir, cleanup } = tempDir();
  try {
    const { convId, reported } = commitAndKill(dir, 6, 'after-commit');
    assert.equal(reported, 6);
    const store = Store.open(dir);
    try {
      assertTurns(store, convId, 6);
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
});

test('a turn killed inside its transaction leaves no trace after reopening', () => {
  const { dir, cleanup } = tempDir();
  try {
    const { convId, reported } = commitAndKill(dir, 3, 'mid-turn');
    assert.equal(reported, 3);
    const store = Store.open(dir);
    try {
      assertTurns(store, convId, 3);
      assert.equal(store.getResponse(null, 'resp_half'), undefined);
      assert.equal(store.getItem(null, convId, 'msg_half'), undefined);
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
});
