import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../src/store/index.js';
import { assistantMessage, responseObject, tempDir, tokenRange, userMessage, withStore } from './helpers.js';

test('a turn appends its items, moves the token history and saves its response', () =>
  withStore((store) => {
    const conv = store.createConversation(null);
    const result = store.commitTurn(null, {
      conversationId: conv.id,
      response: { object: responseObject({ id: 'resp_t1', conversation: conv.id }), input: [] },
      newItems: [userMessage('question'), assistantMessage('answer')],
      tokenHistory: tokenRange(30),
      historyText: '',
      model: 'qwen',
    })!;
    assert.equal(result.items.length, 2);
    assert.match(result.items[1]!.id, /^msg_/);
    assert.deepEqual(store.allItems(null, conv.id), result.items);
    assert.deepEqual(store.getTokenHistory(null, conv.id), { tokens: tokenRange(30), text: '', model: 'qwen' });
    assert.deepEqual(store.getResponseTokens(null, 'resp_t1')?.tokens, tokenRange(30));
  }));

test('a turn that fails midway leaves nothing of itself behind', () =>
  withStore((store) => {
    const conv = store.createConversation(null, { items: [userMessage('first', 'msg_first')] });
    store.commitTurn(null, { conversationId: conv.id, newItems: [], tokenHistory: tokenRange(5), historyText: '', model: 'qwen' });

    // The response and token history are written before the items; the duplicate id fails
    // the third item's insert, after all of them.
    assert.throws(
      () =>
        store.commitTurn(null, {
          conversationId: conv.id,
          response: { object: responseObject({ id: 'resp_bad', conversation: conv.id }), input: [] },
          newItems: [userMessage('new', 'msg_new'), assistantMessage('reply', 'msg_reply'), userMessage('dup', 'msg_first')],
          tokenHistory: tokenRange(50, 1000),
          historyText: '',
          model: 'other-model',
        }),
      /UNIQUE/,
    );
    assert.equal(store.getResponse(null, 'resp_bad'), undefined);
    assert.equal(store.getItem(null, conv.id, 'msg_new'), undefined);
    assert.equal(store.getItem(null, conv.id, 'msg_reply'), undefined);
    assert.deepEqual(store.allItems(null, conv.id)?.map((i) => i.id), ['msg_first']);
    assert.deepEqual(store.getTokenHistory(null, conv.id), { tokens: tokenRange(5), text: '', model: 'qwen' });
  }));

test('a turn for a conversation deleted meanwhile returns undefined and saves no response', () =>
  withStore((store) => {
    const conv = store.createConversation(null);
    store.deleteConversation(null, conv.id);
    const result = store.commitTurn(null, {
      conversationId: conv.id,
      response: { object: responseObject({ id: 'resp_orphan', conversation: conv.id }), input: [] },
      newItems: [userMessage('q')],
      tokenHistory: [1, 2],
      historyText: '',
      model: 'qwen',
    });
    assert.equal(result, undefined);
    assert.equal(store.getResponse(null, 'resp_orphan'), undefined);
  }));

test('a token id that is not an int32 fails the turn before anything is written', () =>
  withStore((store) => {
    const conv = store.createConversation(null);
    assert.throws(
      () => store.commitTurn(null, { conversationId: conv.id, newItems: [userMessage('q')], tokenHistory: [1, 2 ** 31], historyText: '', model: 'm' }),
      RangeError,
    );
    assert.throws(
      () => store.commitTurn(null, { conversationId: conv.id, newItems: [], tokenHistory: [1.5], historyText: '', model: 'm' }),
      RangeError,
    );
    assert.deepEqual(store.allItems(null, conv.id), []);
  }));

test('a turn must name its conversation consistently', () =>
  withStore((store) => {
    const a = store.createConversation(null);
    const b = store.createConversation(null);
    const response = { object: responseObject({ id: 'resp_x', conversation: a.id }), input: [] };
    const base = { newItems: [], tokenHistory: [1], historyText: '', model: 'm' };
    assert.throws(() => store.commitTurn(null, { ...base, conversationId: b.id, response }), /names conversation/);
    assert.throws(() => store.commitTurn(null, { ...base, response }), /names conversation/);
    assert.throws(() => store.commitTurn(null, base), /needs a conversation/);
    assert.throws(() => store.commitTurn(null, { ...base, newItems: [userMessage('q')], response: { ...response, object: responseObject({ id: 'r' }) } }), /items belong/);
    assert.equal(store.getResponse(null, 'resp_x'), undefined);
  }));

test('a response-only turn (previous_response_id chain) keeps its token history', () =>
  withStore((store) => {
    store.commitTurn(null, { response: { object: responseObject({ id: 'resp_1' }), input: [] }, newItems: [], tokenHistory: tokenRange(10), historyText: '', model: 'm' });
    store.commitTurn(null, {
      response: { object: responseObject({ id: 'resp_2', previous: 'resp_1' }), input: [] },
      newItems: [],
      tokenHistory: tokenRange(25),
      historyText: '',
      model: 'm',
    });
    assert.deepEqual(store.responseChain(null, 'resp_2')?.map((r) => r.id), ['resp_1', 'resp_2']);
    assert.deepEqual(store.getResponseTokens(null, 'resp_2')?.tokens, tokenRange(25));
  }));

test('a 100k-token history round-trips exactly, extremes included', () =>
  withStore((store) => {
    const tokens = new Int32Array(100_000);
    let x = 12345;
    for (let i = 0; i < tokens.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) | 0;
      tokens[i] = x;
    }
    tokens[0] = -0x80000000;
    tokens[1] = 0x7fffffff;
    tokens[2] = -1;
    const conv = store.createConversation(null);
    store.commitTurn(null, { conversationId: conv.id, newItems: [], tokenHistory: tokens, historyText: '', model: 'm' });
    const back = store.getTokenHistory(null, conv.id)!.tokens;
    assert.equal(back.length, 100_000);
    assert.deepEqual(back, tokens);
    // A subarray view at an offset stores only what it shows.
    store.commitTurn(null, { conversationId: conv.id, newItems: [], tokenHistory: tokens.subarray(3, 7), historyText: '', model: 'm' });
    assert.deepEqual(store.getTokenHistory(null, conv.id)!.tokens, tokens.slice(3, 7));
  }));

test('everything committed is there after close and reopen', () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = Store.open(dir);
    const conv = first.createConversation(null, { metadata: { user: 'u1' } });
    const { items } = first.commitTurn(null, {
      conversationId: conv.id,
      response: { object: responseObject({ id: 'resp_p', conversation: conv.id }), input: [] },
      newItems: [userMessage('q'), assistantMessage('a')],
      tokenHistory: tokenRange(1000),
      historyText: '',
      model: 'qwen',
    })!;
    first.close();

    const second = Store.open(dir);
    try {
      assert.deepEqual(second.getConversation(null, conv.id), conv);
      assert.deepEqual(second.allItems(null, conv.id), items);
      assert.deepEqual(second.getTokenHistory(null, conv.id), { tokens: tokenRange(1000), text: '', model: 'qwen' });
      assert.equal(second.getResponse(null, 'resp_p')?.conversationId, conv.id);
    } finally {
      second.close();
    }
  } finally {
    cleanup();
  }
});

test('the text a token history stands for is kept beside it, and cleared with it', () =>
  withStore((store) => {
    const conv = store.createConversation(null, { items: [userMessage('hello', 'msg_q')] });
    const text = 'User: hello\n\nAssistant: Once upon a time ✨';
    store.commitTurn(null, {
      conversationId: conv.id,
      response: { object: responseObject({ id: 'resp_text', conversation: conv.id }), input: [] },
      newItems: [assistantMessage('Once upon a time ✨')],
      tokenHistory: tokenRange(12),
      historyText: text,
      model: 'm',
    });
    assert.deepEqual(store.getTokenHistory(null, conv.id), { tokens: tokenRange(12), text, model: 'm' });
    assert.deepEqual(store.getResponseTokens(null, 'resp_text'), { tokens: tokenRange(12), text, model: 'test-model' });
    // A turn that ended on a user stop string stores no history: both go empty together.
    store.commitTurn(null, { conversationId: conv.id, newItems: [], tokenHistory: [], historyText: '', model: 'm' });
    assert.deepEqual(store.getTokenHistory(null, conv.id), { tokens: new Int32Array(0), text: '', model: 'm' });
    store.commitTurn(null, { conversationId: conv.id, newItems: [], tokenHistory: tokenRange(3), historyText: 'abc', model: 'm' });
    assert.ok(store.deleteItem(null, conv.id, 'msg_q'));
    assert.deepEqual(store.getTokenHistory(null, conv.id), { tokens: new Int32Array(0), text: '', model: 'm' });
  }));
