// One suite, every store backend: the embedded SQLite file and PostgreSQL (when
// PENSIEVE_TEST_POSTGRES_URL names a server) must answer every call alike, including under two
// replicas writing at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { completeItem } from '../../src/store/items.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { SqliteStore, StoreConflictError, StoreInputError, type ConversationStore } from '../../src/store/index.js';
import { NO_POSTGRES, scratchDatabase } from '../helpers/postgres.js';
import { assistantMessage, responseObject, tempDir, tokenRange, userMessage } from './helpers.js';

interface Backend {
  name: string;
  skip: string | false;
  /** Opens a fresh, empty store; `second` opens another handle on the same data (a second replica). */
  setup(): Promise<{ open: () => Promise<ConversationStore>; cleanup: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    async setup() {
      const { dir, cleanup } = tempDir();
      return { open: async () => SqliteStore.open(dir), cleanup: async () => cleanup() };
    },
  },
  {
    name: 'postgres',
    skip: NO_POSTGRES,
    async setup() {
      const db = await scratchDatabase();
      return { open: () => PostgresStore.open(db.url), cleanup: db.drop };
    },
  },
];

const turnBase = { historyText: '', model: 'm' };

for (const backend of backends) {
  describe(`store conformance: ${backend.name}`, { skip: backend.skip }, () => {
    let store: ConversationStore;
    let open: () => Promise<ConversationStore>;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ open, cleanup } = await backend.setup());
      store = await open();
    });
    after(async () => {
      await store?.close();
      await cleanup?.();
    });

    it('creates, reads, updates and deletes conversations, per owner', async () => {
      const conv = await store.createConversation('alice', { metadata: { topic: 'x' }, items: [userMessage('hi', 'msg_hi')] });
      assert.match(conv.id, /^conv_/);
      assert.deepEqual(await store.getConversation('alice', conv.id), conv);
      assert.equal(await store.getConversation('bob', conv.id), undefined);
      assert.equal(await store.getConversation(null, conv.id), undefined);
      assert.deepEqual((await store.updateConversation('alice', conv.id, { metadata: { topic: 'y' } }))?.metadata, { topic: 'y' });
      assert.equal(await store.updateConversation('bob', conv.id, { metadata: {} }), undefined);
      assert.deepEqual((await store.allItems('alice', conv.id))?.map((i) => i.id), ['msg_hi']);
      assert.equal(await store.deleteConversation('bob', conv.id), false);
      assert.equal(await store.deleteConversation('alice', conv.id), true);
      assert.equal(await store.getConversation('alice', conv.id), undefined);
      assert.equal(await store.allItems('alice', conv.id), undefined);
      await assert.rejects(store.createConversation(null, { metadata: { k: 5 as unknown as string } }), StoreInputError);
    });

    it('a conversation created with a routing key carries it in its id (load balancers route by it)', async () => {
      const conv = await store.createConversation('alice', { routeKey: '0123456789abcdef' });
      assert.match(conv.id, /^conv_0123456789abcdef[0-9a-f]{32}$/);
      assert.deepEqual(await store.getConversation('alice', conv.id), conv);
      assert.notEqual((await store.createConversation('alice', { routeKey: '0123456789abcdef' })).id, conv.id);
    });

    it('pages items both ways with after cursors, and refuses a cursor it cannot place', async () => {
      const conv = await store.createConversation(null);
      const ids = Array.from({ length: 7 }, (_, i) => `msg_${i}`);
      await store.addItems(null, conv.id, ids.map((id) => userMessage(id, id)));
      const asc = await store.listItems(null, conv.id, { order: 'asc', limit: 3 });
      assert.deepEqual(asc?.data.map((i) => i.id), ['msg_0', 'msg_1', 'msg_2']);
      assert.equal(asc?.has_more, true);
      const next = await store.listItems(null, conv.id, { order: 'asc', limit: 3, after: 'msg_5' });
      assert.deepEqual(next?.data.map((i) => i.id), ['msg_6']);
      assert.equal(next?.has_more, false);
      const desc = await store.listItems(null, conv.id, { limit: 2, after: 'msg_3' });
      assert.deepEqual([desc?.first_id, desc?.last_id, desc?.has_more], ['msg_2', 'msg_1', true]);
      await assert.rejects(store.listItems(null, conv.id, { after: 'msg_nope' }), StoreInputError);
      await assert.rejects(store.listItems(null, conv.id, { limit: 0 }), StoreInputError);
      assert.equal(await store.listItems('someone', conv.id), undefined);
      assert.equal(await store.listItems('someone', conv.id, { limit: 0 }), undefined, 'an unknown conversation is a 404 before a bad limit is a 400');
      assert.equal((await store.getItem(null, conv.id, 'msg_4'))?.id, 'msg_4');
      assert.equal(await store.getItem(null, conv.id, 'msg_9'), undefined);
    });

    it('commits a turn whole: response, items and token history together', async () => {
      const conv = await store.createConversation(null);
      const result = await store.commitTurn(null, {
        ...turnBase,
        conversationId: conv.id,
        response: { object: responseObject({ id: 'resp_c1', conversation: conv.id }), input: [completeItem(userMessage('q'))] },
        newItems: [userMessage('question'), assistantMessage('answer')],
        tokenHistory: tokenRange(40),
        historyText: 'text of 40 tokens',
      });
      assert.equal(result?.items.length, 2);
      assert.deepEqual(await store.allItems(null, conv.id), result!.items);
      assert.deepEqual(await store.getTokenHistory(null, conv.id), { tokens: tokenRange(40), text: 'text of 40 tokens', model: 'm' });
      const saved = await store.getResponse(null, 'resp_c1');
      assert.equal(saved?.conversationId, conv.id);
      assert.deepEqual(saved?.object, responseObject({ id: 'resp_c1', conversation: conv.id }));
      assert.deepEqual((await store.getResponseTokens(null, 'resp_c1'))?.tokens, tokenRange(40));
      assert.equal(await store.getResponse('other', 'resp_c1'), undefined);
    });

    it('commits a turn once: the same items again is a conflict that writes nothing', async () => {
      const conv = await store.createConversation(null);
      const turn = { ...turnBase, conversationId: conv.id, newItems: [userMessage('q', 'msg_q'), assistantMessage('a', 'msg_a')], tokenHistory: tokenRange(8) };
      await store.commitTurn(null, turn);
      await assert.rejects(
        store.commitTurn(null, { ...turn, response: { object: responseObject({ id: 'resp_dup', conversation: conv.id }), input: [] }, tokenHistory: tokenRange(99) }),
        StoreConflictError,
      );
      assert.equal(await store.getResponse(null, 'resp_dup'), undefined);
      assert.deepEqual((await store.getTokenHistory(null, conv.id))?.tokens, tokenRange(8));
      assert.deepEqual((await store.allItems(null, conv.id))?.map((i) => i.id), ['msg_q', 'msg_a']);
    });

    it('a turn for a deleted conversation writes nothing; one whose parent response was deleted is a conflict', async () => {
      const conv = await store.createConversation(null);
      await store.deleteConversation(null, conv.id);
      assert.equal(await store.commitTurn(null, { ...turnBase, conversationId: conv.id, response: { object: responseObject({ id: 'resp_orphan', conversation: conv.id }), input: [] }, newItems: [], tokenHistory: [1] }), undefined);
      assert.equal(await store.getResponse(null, 'resp_orphan'), undefined);

      await store.commitTurn(null, { ...turnBase, response: { object: responseObject({ id: 'resp_parent' }), input: [] }, newItems: [], tokenHistory: [1] });
      assert.equal(await store.deleteResponse(null, 'resp_parent'), true);
      await assert.rejects(
        store.commitTurn(null, { ...turnBase, response: { object: responseObject({ id: 'resp_child', previous: 'resp_parent' }), input: [] }, newItems: [], tokenHistory: [1, 2] }),
        StoreConflictError,
      );
      assert.equal(await store.getResponse(null, 'resp_child'), undefined);
    });

    it('walks a response chain oldest first; a deleted ancestor ends it early; owners do not cross', async () => {
      const ids = ['resp_a', 'resp_b', 'resp_c', 'resp_d'];
      for (let i = 0; i < ids.length; i++) {
        await store.commitTurn('o', {
          ...turnBase,
          response: { object: responseObject({ id: ids[i]!, ...(i === 0 ? {} : { previous: ids[i - 1]! }) }), input: [completeItem(userMessage(`turn ${i}`, `msg_turn${i}`))] },
          newItems: [],
          tokenHistory: tokenRange(10 * (i + 1)),
        });
      }
      assert.deepEqual((await store.responseChain('o', 'resp_d'))?.map((r) => r.id), ids);
      assert.deepEqual((await store.responseChain('o', 'resp_d'))?.[1]?.input, [completeItem(userMessage('turn 1', 'msg_turn1'))]);
      assert.equal(await store.responseChain('p', 'resp_d'), undefined);
      await store.deleteResponse('o', 'resp_b');
      assert.deepEqual((await store.responseChain('o', 'resp_d'))?.map((r) => r.id), ['resp_c', 'resp_d']);
      assert.equal(await store.responseChain('o', 'resp_b'), undefined);
    });

    it('deleting an item clears the token history; adding items keeps it', async () => {
      const conv = await store.createConversation(null, { items: [userMessage('a', 'msg_a')] });
      await store.commitTurn(null, { ...turnBase, conversationId: conv.id, newItems: [assistantMessage('b', 'msg_b')], tokenHistory: tokenRange(12) });
      await store.addItems(null, conv.id, [userMessage('c', 'msg_c')]);
      assert.equal((await store.getTokenHistory(null, conv.id))?.tokens.length, 12);
      assert.equal(await store.deleteItem(null, conv.id, 'msg_zzz'), false);
      assert.equal(await store.deleteItem('x', conv.id, 'msg_a'), false);
      assert.equal(await store.deleteItem(null, conv.id, 'msg_a'), true);
      assert.deepEqual(await store.getTokenHistory(null, conv.id), { tokens: new Int32Array(0), text: '', model: 'm' });
      assert.deepEqual((await store.allItems(null, conv.id))?.map((i) => i.id), ['msg_b', 'msg_c']);
    });

    it('a background response saved in progress and again when done keeps one row, under its owner', async () => {
      const o = responseObject({ id: 'resp_bg' });
      await store.saveResponse('t', { object: { ...o, status: 'in_progress', output: [] }, input: [], tokens: [], text: '' });
      assert.equal((await store.getResponse('t', 'resp_bg'))?.status, 'in_progress');
      await store.saveResponse('t', { object: o, input: [], tokens: [5, 6], text: 'x' });
      await store.saveResponse('intruder', { object: { ...o, model: 'evil' }, input: [], tokens: [], text: '' });
      const got = await store.getResponse('t', 'resp_bg');
      assert.deepEqual([got?.status, got?.model], ['completed', 'test-model']);
      assert.deepEqual((await store.getResponseTokens('t', 'resp_bg'))?.tokens, Int32Array.from([5, 6]));
    });

    it('two replicas writing one conversation at once: every turn lands once, none is lost', async () => {
      const other = await open();
      try {
        const conv = await store.createConversation(null);
        const turns = Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : other).commitTurn(null, {
            ...turnBase,
            conversationId: conv.id,
            response: { object: responseObject({ id: `resp_r${i}`, conversation: conv.id }), input: [] },
            newItems: [userMessage(`q${i}`, `msg_q${i}`), assistantMessage(`a${i}`, `msg_a${i}`)],
            tokenHistory: tokenRange(i + 1),
          }),
        );
        await Promise.all(turns);
        const items = (await other.allItems(null, conv.id))!.map((i) => i.id);
        assert.equal(items.length, 40);
        for (let i = 0; i < 20; i++) assert.equal(items.indexOf(`msg_a${i}`), items.indexOf(`msg_q${i}`) + 1, `turn ${i} kept together`);
        for (let i = 0; i < 20; i++) assert.ok(await store.getResponse(null, `resp_r${i}`));
      } finally {
        await other.close();
      }
    });
  });
}
