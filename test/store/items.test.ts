import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreInputError, type ConversationItem, type ListItemsOptions, type Store } from '../../src/store/index.js';
import { assistantMessage, tokenRange, userMessage, withStore } from './helpers.js';

/** A conversation holding items with ids i1..iN, added oldest first. */
function seeded(store: Store, n: number): string {
  const conv = store.createConversation(null);
  store.addItems(null, conv.id, Array.from({ length: n }, (_, i) => userMessage(`text ${i + 1}`, `msg_i${i + 1}`)));
  return conv.id;
}

const ids = (items: ConversationItem[]) => items.map((i) => i.id);
const range = (from: number, to: number) => {
  const step = from <= to ? 1 : -1;
  return Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => `msg_i${from + i * step}`);
};

test('the default page is the 20 newest items, newest first', () =>
  withStore((store) => {
    const conv = seeded(store, 25);
    const page = store.listItems(null, conv)!;
    assert.equal(page.object, 'list');
    assert.deepEqual(ids(page.data), range(25, 6));
    assert.equal(page.first_id, 'msg_i25');
    assert.equal(page.last_id, 'msg_i6');
    assert.equal(page.has_more, true);
  }));

test('order asc with after pages forward through the conversation', () =>
  withStore((store) => {
    const conv = seeded(store, 5);
    const p1 = store.listItems(null, conv, { order: 'asc', limit: 2 })!;
    assert.deepEqual(ids(p1.data), ['msg_i1', 'msg_i2']);
    assert.equal(p1.has_more, true);
    const p2 = store.listItems(null, conv, { order: 'asc', limit: 2, after: p1.last_id! })!;
    assert.deepEqual(ids(p2.data), ['msg_i3', 'msg_i4']);
    assert.equal(p2.has_more, true);
    const p3 = store.listItems(null, conv, { order: 'asc', limit: 2, after: p2.last_id! })!;
    assert.deepEqual(ids(p3.data), ['msg_i5']);
    assert.equal(p3.first_id, 'msg_i5');
    assert.equal(p3.last_id, 'msg_i5');
    assert.equal(p3.has_more, false);
  }));

test('order desc with after pages backward, and a page that exactly fits has no more', () =>
  withStore((store) => {
    const conv = seeded(store, 4);
    const p1 = store.listItems(null, conv, { limit: 2 })!;
    assert.deepEqual(ids(p1.data), ['msg_i4', 'msg_i3']);
    assert.equal(p1.has_more, true);
    const p2 = store.listItems(null, conv, { limit: 2, after: 'msg_i3' })!;
    assert.deepEqual(ids(p2.data), ['msg_i2', 'msg_i1']);
    assert.equal(p2.has_more, false);
  }));

test('a page past the end is empty with null first_id and last_id', () =>
  withStore((store) => {
    const conv = seeded(store, 3);
    for (const options of [{ after: 'msg_i1' }, { order: 'asc', after: 'msg_i3' }] satisfies ListItemsOptions[]) {
      assert.deepEqual(store.listItems(null, conv, options), { object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    }
    const empty = store.createConversation(null);
    assert.deepEqual(store.listItems(null, empty.id)?.data, []);
  }));

test('walking every page with any limit visits each item once, in both orders', () =>
  withStore((store) => {
    const conv = seeded(store, 23);
    for (const order of ['asc', 'desc'] as const) {
      for (const limit of [1, 5, 23, 100]) {
        const seen: string[] = [];
        let after: string | undefined;
        // Bounded, so a cursor that fails to advance fails the test instead of hanging it.
        for (let pages = 0; pages <= 23; pages++) {
          const page = store.listItems(null, conv, { order, limit, ...(after === undefined ? {} : { after }) })!;
          seen.push(...ids(page.data));
          if (!page.has_more) break;
          after = page.last_id!;
        }
        assert.deepEqual(seen, order === 'asc' ? range(1, 23) : range(23, 1), `${order} limit ${limit}`);
      }
    }
  }));

test('limit outside 1..100, a bad order, or an unknown cursor are client errors', () =>
  withStore((store) => {
    const conv = seeded(store, 2);
    const other = seeded(store, 0);
    const param = (name: string) => (e: unknown) => e instanceof StoreInputError && e.param === name;
    for (const limit of [0, 101, 1.5, -1]) assert.throws(() => store.listItems(null, conv, { limit }), param('limit'));
    assert.equal(store.listItems(null, conv, { limit: 100 })?.data.length, 2);
    const badOrder = JSON.parse('{"order": "sideways"}') as ListItemsOptions;
    assert.throws(() => store.listItems(null, conv, badOrder), param('order'));
    assert.throws(() => store.listItems(null, conv, { after: 'msg_nope' }), param('after'));
    // A cursor is only meaningful inside its own conversation.
    store.addItems(null, other, [userMessage('x', 'msg_elsewhere')]);
    assert.throws(() => store.listItems(null, conv, { after: 'msg_elsewhere' }), param('after'));
  }));

test('get and delete one item', () =>
  withStore((store) => {
    const conv = seeded(store, 3);
    const item = store.getItem(null, conv, 'msg_i2');
    assert.deepEqual(item, {
      type: 'message',
      id: 'msg_i2',
      role: 'user',
      content: [{ type: 'input_text', text: 'text 2' }],
      status: 'completed',
    });
    assert.equal(store.deleteItem(null, conv, 'msg_i2'), true);
    assert.equal(store.getItem(null, conv, 'msg_i2'), undefined);
    assert.equal(store.deleteItem(null, conv, 'msg_i2'), false);
    assert.deepEqual(ids(store.listItems(null, conv)!.data), ['msg_i3', 'msg_i1']);
  }));

test('an item can be fetched only through its own conversation', () =>
  withStore((store) => {
    const a = seeded(store, 1);
    const b = seeded(store, 0);
    assert.equal(store.getItem(null, b, 'msg_i1'), undefined);
    assert.equal(store.deleteItem(null, b, 'msg_i1'), false);
    assert.ok(store.getItem(null, a, 'msg_i1'));
  }));

test('adding items keeps the token history; deleting one clears it', () =>
  withStore((store) => {
    const conv = seeded(store, 1);
    store.commitTurn(null, { conversationId: conv, newItems: [assistantMessage('hi', 'msg_a')], tokenHistory: tokenRange(6), historyText: '', model: 'm' });
    store.addItems(null, conv, [userMessage('later')]);
    assert.deepEqual(store.getTokenHistory(null, conv), { tokens: tokenRange(6), text: '', model: 'm' });
    store.deleteItem(null, conv, 'msg_a');
    assert.deepEqual(store.getTokenHistory(null, conv), { tokens: new Int32Array(0), text: '', model: 'm' });
  }));

test('every item type round-trips and gets its OpenAI id prefix', () =>
  withStore((store) => {
    const conv = store.createConversation(null);
    const added = store.addItems(null, conv.id, [
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '{"temp":3}' },
      { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }], status: 'incomplete' },
      assistantMessage('sunny'),
    ])!;
    assert.deepEqual(added.map((i) => i.id.split('_')[0]), ['fc', 'fco', 'msg', 'msg']);
    assert.equal(added[2]!.status, 'incomplete');
    assert.deepEqual(store.listItems(null, conv.id, { order: 'asc' })!.data, added);
  }));

test('a duplicate item id within a conversation is refused, across conversations allowed', () =>
  withStore((store) => {
    const a = seeded(store, 1);
    const b = seeded(store, 0);
    assert.throws(() => store.addItems(null, a, [userMessage('new', 'msg_fresh'), userMessage('dup', 'msg_i1')]), /UNIQUE/);
    assert.equal(store.getItem(null, a, 'msg_fresh'), undefined, 'the batch is all or nothing');
    assert.equal(store.addItems(null, b, [userMessage('same id', 'msg_i1')])?.length, 1);
  }));
