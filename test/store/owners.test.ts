// Tenants in the store: a conversation or response is visible only to the owner that created it.
// To any other owner (another tenant, or the ownerless open server) every call reads as if the
// id did not exist, and writes change nothing. Data written before owners existed stays with
// the ownerless server.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, Store, type Owner } from '../../src/store/index.js';
import { assistantMessage, responseObject, tempDir, tokenRange, userMessage, withStore } from './helpers.js';

const ALICE: Owner = 'alice';
const OTHERS: Owner[] = ['bob', null, 'Alice', 'alice '];

test("another owner's conversation reads, updates and deletes as an unknown id", () =>
  withStore((store) => {
    const conv = store.createConversation(ALICE, { metadata: { k: 'v' }, items: [userMessage('hi', 'msg_1')] });
    store.commitTurn(ALICE, { conversationId: conv.id, newItems: [assistantMessage('hello', 'msg_2')], tokenHistory: tokenRange(8), historyText: 'x', model: 'm' });
    for (const other of OTHERS) {
      const who = String(other);
      assert.equal(store.getConversation(other, conv.id), undefined, who);
      assert.equal(store.listItems(other, conv.id), undefined, who);
      assert.equal(store.allItems(other, conv.id), undefined, who);
      assert.equal(store.getItem(other, conv.id, 'msg_1'), undefined, who);
      assert.equal(store.getTokenHistory(other, conv.id), undefined, who);
      assert.equal(store.updateConversation(other, conv.id, { metadata: { k: 'stolen' } }), undefined, who);
      assert.equal(store.addItems(other, conv.id, [userMessage('injected')]), undefined, who);
      assert.equal(store.deleteItem(other, conv.id, 'msg_1'), false, who);
      assert.equal(store.deleteConversation(other, conv.id), false, who);
      const turn = store.commitTurn(other, {
        conversationId: conv.id,
        response: { object: responseObject({ id: `resp_by_${who}`, conversation: conv.id }), input: [] },
        newItems: [userMessage('injected turn')],
        tokenHistory: tokenRange(3),
        historyText: '',
        model: 'm',
      });
      assert.equal(turn, undefined, who);
      // The refused turn saved no response either (the transaction rolled back).
      assert.equal(store.getResponse(other, `resp_by_${who}`), undefined, who);
    }
    // The owner still has all of it, unchanged.
    assert.deepEqual(store.getConversation(ALICE, conv.id)?.metadata, { k: 'v' });
    assert.deepEqual(store.allItems(ALICE, conv.id)?.map((i) => i.id), ['msg_1', 'msg_2']);
    assert.deepEqual(store.getTokenHistory(ALICE, conv.id)?.tokens, tokenRange(8));
    assert.equal(store.deleteConversation(ALICE, conv.id), true);
  }));

test("another owner's response, its tokens and its chain read and delete as an unknown id", () =>
  withStore((store) => {
    store.saveResponse(ALICE, { object: responseObject({ id: 'resp_a1' }), input: [], tokens: tokenRange(4), text: '' });
    store.saveResponse(ALICE, { object: responseObject({ id: 'resp_a2', previous: 'resp_a1' }), input: [], tokens: tokenRange(6), text: '' });
    for (const other of OTHERS) {
      const who = String(other);
      assert.equal(store.getResponse(other, 'resp_a2'), undefined, who);
      assert.equal(store.getResponseTokens(other, 'resp_a2'), undefined, who);
      assert.equal(store.responseChain(other, 'resp_a2'), undefined, who);
      assert.equal(store.deleteResponse(other, 'resp_a1'), false, who);
      // A save under the same id by someone else neither overwrites nor takes the row.
      store.saveResponse(other, { object: responseObject({ id: 'resp_a1', text: 'overwritten' }), input: [], tokens: [9], text: '' });
      assert.equal(store.getResponse(other, 'resp_a1'), undefined, who);
    }
    assert.deepEqual(store.responseChain(ALICE, 'resp_a2')?.map((r) => r.id), ['resp_a1', 'resp_a2']);
    assert.equal(store.getResponse(ALICE, 'resp_a1')?.output[0]?.type, 'message');
    assert.deepEqual(store.getResponseTokens(ALICE, 'resp_a1')?.tokens, tokenRange(4));
    assert.match(JSON.stringify(store.getResponse(ALICE, 'resp_a1')?.object), /reply of resp_a1/);
  }));

test("a chain never crosses owners: a parent of another owner ends it like a deleted one", () =>
  withStore((store) => {
    store.saveResponse('bob', { object: responseObject({ id: 'resp_b1' }), input: [], tokens: [1], text: '' });
    // Only reachable by writing the link directly (the server checks previous_response_id first).
    store.saveResponse(ALICE, { object: responseObject({ id: 'resp_a2', previous: 'resp_b1' }), input: [], tokens: [1, 2], text: '' });
    assert.deepEqual(store.responseChain(ALICE, 'resp_a2')?.map((r) => r.id), ['resp_a2']);
  }));

test('owners are kept apart for the same data: each sees only its own conversations', () =>
  withStore((store) => {
    const mine = store.createConversation(ALICE);
    const theirs = store.createConversation('bob');
    const open = store.createConversation(null);
    assert.equal(store.getConversation(ALICE, mine.id)?.id, mine.id);
    assert.equal(store.getConversation('bob', theirs.id)?.id, theirs.id);
    assert.equal(store.getConversation(null, open.id)?.id, open.id);
    assert.equal(store.getConversation(ALICE, theirs.id), undefined);
    assert.equal(store.getConversation(ALICE, open.id), undefined);
    assert.equal(store.getConversation(null, mine.id), undefined);
  }));

test('a data dir from before owners keeps its rows, owned by the ownerless server', () => {
  const { dir, cleanup } = tempDir();
  try {
    let store = Store.open(dir);
    const conv = store.createConversation(null, { items: [userMessage('old', 'msg_old')] });
    store.saveResponse(null, { object: responseObject({ id: 'resp_old' }), input: [], tokens: [1], text: '' });
    store.close();
    // Take the file back to schema version 1: the owner columns did not exist yet.
    const db = new Database(store.path);
    db.exec('ALTER TABLE conversations DROP COLUMN owner; ALTER TABLE responses DROP COLUMN owner; UPDATE schema_version SET version = 1');
    db.close();
    store = Store.open(dir);
    try {
      assert.equal(store.getItem(null, conv.id, 'msg_old')?.id, 'msg_old');
      assert.equal(store.getResponse(null, 'resp_old')?.id, 'resp_old');
      assert.equal(store.getConversation(ALICE, conv.id), undefined);
      assert.equal(store.getResponse(ALICE, 'resp_old'), undefined);
    } finally {
      store.close();
    }
    const check = new Database(store.path);
    assert.deepEqual(check.prepare('SELECT version FROM schema_version').all(), [{ version: SCHEMA_VERSION }]);
    check.close();
  } finally {
    cleanup();
  }
});
