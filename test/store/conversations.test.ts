import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreInputError } from '../../src/store/index.js';
import { responseObject, tokenRange, userMessage, withStore } from './helpers.js';

test('a created conversation reads back as the OpenAI conversation object', () =>
  withStore((store) => {
    const before = Math.floor(Date.now() / 1000);
    const conv = store.createConversation(null, { metadata: { topic: 'demo' } });
    assert.match(conv.id, /^conv_[0-9a-f]{48}$/);
    assert.equal(conv.object, 'conversation');
    assert.ok(conv.created_at >= before && conv.created_at <= before + 1);
    assert.deepEqual(store.getConversation(null, conv.id), conv);
    assert.notEqual(store.createConversation(null).id, conv.id);
  }));

test('initial items are stored in order with ids and statuses assigned', () =>
  withStore((store) => {
    const conv = store.createConversation(null, { items: [userMessage('one'), userMessage('two')] });
    const items = store.allItems(null, conv.id)!;
    assert.equal(items.length, 2);
    assert.match(items[0]!.id, /^msg_[0-9a-f]{48}$/);
    assert.equal(items[0]!.status, 'completed');
    assert.deepEqual(
      items.map((i) => (i.type === 'message' && i.content[0]?.type === 'input_text' ? i.content[0].text : '')),
      ['one', 'two'],
    );
  }));

test('a new conversation has an empty token history and no model', () =>
  withStore((store) => {
    const conv = store.createConversation(null);
    const history = store.getTokenHistory(null, conv.id)!;
    assert.equal(history.tokens.length, 0);
    assert.equal(history.model, null);
  }));

test('update replaces the metadata', () =>
  withStore((store) => {
    const conv = store.createConversation(null, { metadata: { a: '1', b: '2' } });
    const updated = store.updateConversation(null, conv.id, { metadata: { c: '3' } });
    assert.deepEqual(updated?.metadata, { c: '3' });
    assert.deepEqual(store.getConversation(null, conv.id)?.metadata, { c: '3' });
    assert.equal(updated?.created_at, conv.created_at);
  }));

test('metadata beyond OpenAI limits is refused with param "metadata"', () =>
  withStore((store) => {
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v']));
    const refused = (e: unknown) => e instanceof StoreInputError && e.param === 'metadata';
    assert.throws(() => store.createConversation(null, { metadata: seventeen }), refused);
    assert.throws(() => store.createConversation(null, { metadata: { ['k'.repeat(65)]: 'v' } }), refused);
    assert.throws(() => store.createConversation(null, { metadata: { k: 'v'.repeat(513) } }), refused);
    const notString = JSON.parse('{"k": 1}') as Record<string, string>;
    assert.throws(() => store.createConversation(null, { metadata: notString }), refused);
    const conv = store.createConversation(null, { metadata: sixteen });
    assert.throws(() => store.updateConversation(null, conv.id, { metadata: seventeen }), refused);
    assert.deepEqual(store.getConversation(null, conv.id)?.metadata, sixteen);
  }));

test('unknown conversation ids give undefined or false', () =>
  withStore((store) => {
    const missing = 'conv_doesnotexist';
    assert.equal(store.getConversation(null, missing), undefined);
    assert.equal(store.updateConversation(null, missing, { metadata: {} }), undefined);
    assert.equal(store.deleteConversation(null, missing), false);
    assert.equal(store.listItems(null, missing), undefined);
    assert.equal(store.allItems(null, missing), undefined);
    assert.equal(store.addItems(null, missing, [userMessage('x')]), undefined);
    assert.equal(store.getTokenHistory(null, missing), undefined);
    assert.equal(store.getItem(null, missing, 'msg_x'), undefined);
    assert.equal(store.deleteItem(null, missing, 'msg_x'), false);
  }));

test('deleting a conversation deletes its items but not its responses', () =>
  withStore((store) => {
    const conv = store.createConversation(null, { items: [userMessage('hi')] });
    const item = store.allItems(null, conv.id)![0]!;
    store.commitTurn(null, {
      conversationId: conv.id,
      response: { object: responseObject({ id: 'resp_1', conversation: conv.id }), input: [] },
      newItems: [userMessage('more')],
      tokenHistory: tokenRange(8),
      historyText: '',
      model: 'test-model',
    });
    const other = store.createConversation(null, { items: [userMessage('keep me')] });

    assert.equal(store.deleteConversation(null, conv.id), true);
    assert.equal(store.getConversation(null, conv.id), undefined);
    assert.equal(store.getItem(null, conv.id, item.id), undefined);
    assert.equal(store.getTokenHistory(null, conv.id), undefined);
    assert.equal(store.deleteConversation(null, conv.id), false);
    const response = store.getResponse(null, 'resp_1');
    assert.equal(response?.conversationId, conv.id);
    assert.equal(store.allItems(null, other.id)?.length, 1);
  }));
