import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assistantMessage, responseObject, tokenRange, userMessage, withStore } from './helpers.js';
import type { ConversationItem, Store } from '../../src/store/index.js';

const input: ConversationItem[] = [
  { type: 'message', id: 'msg_in', role: 'user', content: [{ type: 'input_text', text: 'hello' }], status: 'completed' },
];

/** Saves resp_1 ← resp_2 ← … ← resp_n, each pointing at the one before. */
function saveChain(store: Store, n: number): void {
  for (let i = 1; i <= n; i++) {
    const object = responseObject({ id: `resp_${i}`, ...(i > 1 ? { previous: `resp_${i - 1}` } : {}) });
    store.saveResponse(null, { object, input, tokens: tokenRange(10 * i), text: '' });
  }
}

test('a saved response reads back with its object, input, links and usage', () =>
  withStore((store) => {
    const object = responseObject({ id: 'resp_a', previous: 'resp_0', text: 'hi there' });
    store.saveResponse(null, { object, input, tokens: [1, 2, 3], text: '' });
    const stored = store.getResponse(null, 'resp_a')!;
    assert.deepEqual(stored.object, object, 'the full object, untyped fields included, is kept for GET');
    assert.equal(stored.id, 'resp_a');
    assert.equal(stored.createdAt, object.created_at);
    assert.equal(stored.model, 'test-model');
    assert.equal(stored.status, 'completed');
    assert.equal(stored.previousResponseId, 'resp_0');
    assert.equal(stored.conversationId, null);
    assert.equal(stored.instructions, 'Be brief.');
    assert.deepEqual(stored.input, input);
    assert.deepEqual(stored.output, object.output);
    assert.deepEqual(stored.usage, object.usage);
    assert.deepEqual(store.getResponseTokens(null, 'resp_a'), { tokens: Int32Array.from([1, 2, 3]), text: '', model: 'test-model' });
  }));

test('saving a response again replaces it (in_progress, then completed)', () =>
  withStore((store) => {
    const pending = { ...responseObject({ id: 'resp_bg' }), status: 'in_progress' as const, output: [], usage: null };
    store.saveResponse(null, { object: pending, input, tokens: [], text: '' });
    assert.equal(store.getResponse(null, 'resp_bg')?.status, 'in_progress');
    assert.equal(store.getResponse(null, 'resp_bg')?.usage, null);
    store.saveResponse(null, { object: responseObject({ id: 'resp_bg' }), input, tokens: [4, 5], text: '' });
    assert.equal(store.getResponse(null, 'resp_bg')?.status, 'completed');
    assert.equal(store.getResponse(null, 'resp_bg')?.output.length, 1);
    assert.deepEqual(store.getResponseTokens(null, 'resp_bg')?.tokens, Int32Array.from([4, 5]));
  }));

test('delete removes a response; unknown ids give undefined or false', () =>
  withStore((store) => {
    saveChain(store, 1);
    assert.equal(store.deleteResponse(null, 'resp_1'), true);
    assert.equal(store.getResponse(null, 'resp_1'), undefined);
    assert.equal(store.getResponseTokens(null, 'resp_1'), undefined);
    assert.equal(store.responseChain(null, 'resp_1'), undefined);
    assert.equal(store.deleteResponse(null, 'resp_1'), false);
  }));

test('a response chain is walked back to its root and returned oldest first', () =>
  withStore((store) => {
    saveChain(store, 4);
    const chain = store.responseChain(null, 'resp_4')!;
    assert.deepEqual(chain.map((r) => r.id), ['resp_1', 'resp_2', 'resp_3', 'resp_4']);
    assert.equal(chain[0]!.previousResponseId, null);
    assert.deepEqual(store.responseChain(null, 'resp_2')!.map((r) => r.id), ['resp_1', 'resp_2']);
    assert.deepEqual(store.responseChain(null, 'resp_1')!.map((r) => r.id), ['resp_1']);
  }));

test('a chain whose ancestor was deleted stops there, and says so by its first link', () =>
  withStore((store) => {
    saveChain(store, 4);
    store.deleteResponse(null, 'resp_2');
    const chain = store.responseChain(null, 'resp_4')!;
    assert.deepEqual(chain.map((r) => r.id), ['resp_3', 'resp_4']);
    assert.equal(chain[0]!.previousResponseId, 'resp_2');
  }));

test('a chain that loops (damaged rows) fails instead of hanging', () =>
  withStore((store) => {
    store.saveResponse(null, { object: responseObject({ id: 'resp_x', previous: 'resp_y' }), input, tokens: [], text: '' });
    store.saveResponse(null, { object: responseObject({ id: 'resp_y', previous: 'resp_x' }), input, tokens: [], text: '' });
    assert.throws(() => store.responseChain(null, 'resp_x'), /loops/);
  }));

test('a long chain walks without recursion limits', () =>
  withStore((store) => {
    saveChain(store, 2000);
    const chain = store.responseChain(null, 'resp_2000')!;
    assert.equal(chain.length, 2000);
    assert.equal(chain[0]!.id, 'resp_1');
  }));

test('a response made in a conversation records it and survives its deletion', () =>
  withStore((store) => {
    const conv = store.createConversation(null);
    store.commitTurn(null, {
      conversationId: conv.id,
      response: { object: responseObject({ id: 'resp_c', conversation: conv.id }), input },
      newItems: [userMessage('hello'), assistantMessage('reply')],
      tokenHistory: tokenRange(20),
      historyText: '',
      model: 'test-model',
    });
    assert.equal(store.getResponse(null, 'resp_c')?.conversationId, conv.id);
    store.deleteConversation(null, conv.id);
    assert.equal(store.getResponse(null, 'resp_c')?.conversationId, conv.id);
    assert.deepEqual(store.getResponseTokens(null, 'resp_c')?.tokens, tokenRange(20));
  }));
