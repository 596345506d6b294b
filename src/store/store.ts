// The persistent store of conversations, their items and token histories, and stored responses:
// one SQLite file per data dir, <dataDir>/pensieve.db. Synchronous like better-sqlite3 itself —
// each call is a few hundred microseconds of local I/O, cheaper than an await round trip.
// Unknown ids give undefined/false (the server's 404); bad client arguments throw StoreInputError.
// Every call names the owner (the API key's tenant): another owner's id is an unknown id.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkTurn, StoreConflictError, type NewConversationOptions } from './conversation-store.js';
import { newId } from './ids.js';
import { ItemTable } from './items.js';
import { ResponseTable } from './responses.js';
import { openDatabase, type Db } from './schema.js';
import { decodeTokens, encodeTokens } from './tokens.js';
import { checkMetadata, parseMetadata } from './validate.js';
import type {
  CommitTurnInput,
  CommitTurnResult,
  Conversation,
  ConversationItem,
  ItemList,
  ListItemsOptions,
  Metadata,
  NewItem,
  Owner,
  SaveResponseInput,
  StoredResponse,
  TokenHistory,
} from './types.js';

interface ConversationRow {
  id: string;
  created_at: number;
  metadata: string;
}

export class Store {
  readonly path: string;
  private readonly db: Db;
  private readonly items: ItemTable;
  private readonly responses: ResponseTable;
  private readonly stmt;

  /** Opens or creates `<dataDir>/pensieve.db`, creating `dataDir` if needed. */
  static open(dataDir: string): Store {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'pensieve.db');
    return new Store(openDatabase(path), path);
  }

  private constructor(db: Db, path: string) {
    this.db = db;
    this.path = path;
    this.items = new ItemTable(db);
    this.responses = new ResponseTable(db);
    this.stmt = {
      insertConversation: db.prepare<[string, number, string, Owner]>(
        'INSERT INTO conversations (id, created_at, metadata, owner) VALUES (?, ?, ?, ?)',
      ),
      // `owner IS ?` rather than `=`: it matches NULL to NULL, the open server's owner.
      getConversation: db.prepare<[string, Owner], ConversationRow>(
        'SELECT id, created_at, metadata FROM conversations WHERE id = ? AND owner IS ?',
      ),
      setMetadata: db.prepare<[string, string, Owner]>('UPDATE conversations SET metadata = ? WHERE id = ? AND owner IS ?'),
      deleteConversation: db.prepare<[string, Owner]>('DELETE FROM conversations WHERE id = ? AND owner IS ?'),
      getTokens: db.prepare<[string, Owner], { model: string | null; tokens: Buffer; history_text: string }>(
        'SELECT model, tokens, history_text FROM conversations WHERE id = ? AND owner IS ?',
      ),
      setTokens: db.prepare<[Buffer, string, string | null, string, Owner]>(
        'UPDATE conversations SET tokens = ?, history_text = ?, model = ? WHERE id = ? AND owner IS ?',
      ),
      clearTokens: db.prepare<[string]>("UPDATE conversations SET tokens = x'', history_text = '' WHERE id = ?"),
    };
  }

  createConversation(owner: Owner, options: NewConversationOptions = {}): Conversation {
    const metadata = checkMetadata(options.metadata ?? {});
    const conversation: Conversation = {
      id: newId('conv', options.routeKey),
      object: 'conversation',
      created_at: Math.floor(Date.now() / 1000),
      metadata,
    };
    this.db.transaction(() => {
      this.stmt.insertConversation.run(conversation.id, conversation.created_at, JSON.stringify(metadata), owner);
      this.items.append(conversation.id, options.items ?? []);
    })();
    return conversation;
  }

  getConversation(owner: Owner, id: string): Conversation | undefined {
    const row = this.stmt.getConversation.get(id, owner);
    if (row === undefined) return undefined;
    return {
      id: row.id,
      object: 'conversation',
      created_at: row.created_at,
      metadata: parseMetadata(row.metadata, `conversation ${row.id}`),
    };
  }

  /** Replaces the metadata, as OpenAI's update does. */
  updateConversation(owner: Owner, id: string, update: { metadata: Metadata }): Conversation | undefined {
    const metadata = checkMetadata(update.metadata);
    if (this.stmt.setMetadata.run(JSON.stringify(metadata), id, owner).changes === 0) return undefined;
    return this.getConversation(owner, id);
  }

  /** Deletes the conversation and its items; responses made in it stay, as OpenAI's do. */
  deleteConversation(owner: Owner, id: string): boolean {
    return this.stmt.deleteConversation.run(id, owner).changes > 0;
  }

  listItems(owner: Owner, conversationId: string, options?: ListItemsOptions): ItemList | undefined {
    if (!this.hasConversation(owner, conversationId)) return undefined;
    return this.items.page(conversationId, options);
  }

  /** All items, oldest first, for rendering a prompt from scratch. */
  allItems(owner: Owner, conversationId: string): ConversationItem[] | undefined {
    if (!this.hasConversation(owner, conversationId)) return undefined;
    return this.items.all(conversationId);
  }

  /**
   * Appends items outside a turn (POST /v1/conversations/{id}/items). The token history is kept:
   * it is still a prefix of what the engine will render next, so its cache stays usable.
   */
  addItems(owner: Owner, conversationId: string, items: readonly NewItem[]): ConversationItem[] | undefined {
    return this.db.transaction(() => {
      if (!this.hasConversation(owner, conversationId)) return undefined;
      return this.items.append(conversationId, items);
    })();
  }

  getItem(owner: Owner, conversationId: string, itemId: string): ConversationItem | undefined {
    if (!this.hasConversation(owner, conversationId)) return undefined;
    return this.items.get(conversationId, itemId);
  }

  /**
   * Deleting an item rewrites the past, so the token history no longer describes the
   * conversation: it is cleared in the same transaction and the engine re-renders from items.
   */
  deleteItem(owner: Owner, conversationId: string, itemId: string): boolean {
    return this.db.transaction(() => {
      if (!this.hasConversation(owner, conversationId)) return false;
      if (!this.items.delete(conversationId, itemId)) return false;
      this.stmt.clearTokens.run(conversationId);
      return true;
    })();
  }

  getTokenHistory(owner: Owner, conversationId: string): TokenHistory | undefined {
    const row = this.stmt.getTokens.get(conversationId, owner);
    if (row === undefined) return undefined;
    return { tokens: decodeTokens(row.tokens, `conversation ${conversationId}`), text: row.history_text, model: row.model };
  }

  /**
   * Records one finished turn — the stored response, the conversation's new items and its new
   * token history — in one transaction: a reader or a restart sees all of it or none of it.
   * Returns undefined, having written nothing, when the conversation no longer exists.
   */
  commitTurn(owner: Owner, turn: CommitTurnInput): CommitTurnResult | undefined {
    checkTurn(turn);
    const { conversationId, response } = turn;
    // Encode before the transaction: a bad token id must fail before anything is written.
    const tokens = encodeTokens(turn.tokenHistory);
    const write = this.db.transaction((): CommitTurnResult => {
      if (response !== undefined) {
        const parent = response.object.previous_response_id;
        if (parent !== null && this.responses.get(owner, parent) === undefined) {
          throw new StoreConflictError(`response ${parent}, which this turn continues, was deleted during the turn`);
        }
        this.responses.save(owner, { ...response, tokens: turn.tokenHistory, text: turn.historyText }, tokens);
      }
      if (conversationId === undefined) return { items: [] };
      // Throwing (not returning) rolls back the response saved above.
      if (this.stmt.setTokens.run(tokens, turn.historyText, turn.model, conversationId, owner).changes === 0) {
        throw new UnknownConversation();
      }
      return { items: this.items.append(conversationId, turn.newItems) };
    });
    try {
      return write();
    } catch (err) {
      if (err instanceof UnknownConversation) return undefined;
      if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreConflictError(`conversation ${conversationId}: this turn's items are stored already (${(err as Error).message})`, { cause: err });
      }
      throw err;
    }
  }

  saveResponse(owner: Owner, input: SaveResponseInput): void {
    this.responses.save(owner, input);
  }

  /** The stored response without its token history (see getResponseTokens). */
  getResponse(owner: Owner, id: string): StoredResponse | undefined {
    return this.responses.get(owner, id);
  }

  getResponseTokens(owner: Owner, id: string): TokenHistory | undefined {
    return this.responses.tokens(owner, id);
  }

  deleteResponse(owner: Owner, id: string): boolean {
    return this.responses.delete(owner, id);
  }

  /** Oldest first, ending at `id`; see ResponseTable.chain for a chain whose root was deleted. */
  responseChain(owner: Owner, id: string): StoredResponse[] | undefined {
    return this.responses.chain(owner, id);
  }

  close(): void {
    this.db.close();
  }

  private hasConversation(owner: Owner, id: string): boolean {
    return this.stmt.getConversation.get(id, owner) !== undefined;
  }
}

class UnknownConversation extends Error {}
