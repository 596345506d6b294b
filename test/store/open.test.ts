import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, Store } from '../../src/store/index.js';
import { tempDir, userMessage } from './helpers.js';

/** Runs `fn` with a raw connection to the store's file, for tests that damage it on purpose. */
function withRawDb(path: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

test('open creates the data dir and a WAL-mode database at the current schema version', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dataDir = join(dir, 'nested', 'data');
    const store = Store.open(dataDir);
    assert.equal(store.path, join(dataDir, 'pensieve.db'));
    store.close();
    assert.ok(existsSync(store.path));
    withRawDb(store.path, (db) => {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: SCHEMA_VERSION }]);
    });
    // Reopening an up-to-date file runs no migration again (it would fail on CREATE TABLE).
    Store.open(dataDir).close();
  } finally {
    cleanup();
  }
});

test('a file that is not a database gives an error naming it', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'pensieve.db');
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    assert.throws(() => Store.open(dir), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.includes(path), err.message);
      assert.match(err.message, /not a database/);
      return true;
    });
  } finally {
    cleanup();
  }
});

test('a database from a newer Pensieve is refused, naming the file', () => {
  const { dir, cleanup } = tempDir();
  try {
    const store = Store.open(dir);
    store.close();
    withRawDb(store.path, (db) => db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1));
    assert.throws(() => Store.open(dir), (err: unknown) => err instanceof Error && err.message.includes(store.path) && /newer/.test(err.message));
  } finally {
    cleanup();
  }
});

test('a damaged row fails loudly, naming the row', () => {
  const { dir, cleanup } = tempDir();
  try {
    let store = Store.open(dir);
    const conv = store.createConversation(null);
    store.addItems(null, conv.id, [userMessage('fine', 'msg_ok'), userMessage('to be damaged', 'msg_bad')]);
    store.close();
    withRawDb(store.path, (db) => {
      db.prepare(`UPDATE items SET body = '{"type":"message","id":"msg_bad","role":"robot","content":[],"status":"completed"}' WHERE id = 'msg_bad'`).run();
      db.prepare(`UPDATE conversations SET tokens = x'0102030405'`).run();
    });
    store = Store.open(dir);
    try {
      assert.equal(store.getItem(null, conv.id, 'msg_ok')?.id, 'msg_ok');
      assert.throws(() => store.getItem(null, conv.id, 'msg_bad'), /item #2: unknown role 'robot'/);
      assert.throws(() => store.listItems(null, conv.id), /unknown role/);
      assert.throws(() => store.getTokenHistory(null, conv.id), new RegExp(`conversation ${conv.id}: token history is 5 bytes`));
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
});
