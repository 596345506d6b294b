// The embedded store behind the ConversationStore interface: the synchronous SQLite Store of one
// process (store.ts), each call answered at once. The default when no --store URL is given.

import type { ConversationStore, NewConversationOptions } from './conversation-store.js';
import { Store } from './store.js';
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

export class SqliteStore implements ConversationStore {
  readonly location: string;

  constructor(readonly sync: Store) {
    this.location = sync.path;
  }

  /** Opens or creates `<dataDir>/pensieve.db`. */
  static open(dataDir: string): SqliteStore {
    return new SqliteStore(Store.open(dataDir));
  }

  async createConversation(owner: Owner, options?: NewConversationOptions): Promise<Conversation> {
    return this.sync.createConversation(owner, options);
  }
  async getConversation(owner: Owner, id: string): Promise<Conversation | undefined> {
    return this.sync.getConversation(owner, id);
  }
  async updateConversation(owner: Owner, id: string, update: { metadata: Metadata }): Promise<Conversation | undefined> {
    return this.sync.updateConversation(owner, id, update);
  }
  async deleteConversation(owner: Owner, id: string): Promise<boolean> {
    return this.sync.deleteConversation(owner, id);
  }
  async listItems(owner: Owner, conversationId: string, options?: ListItemsOptions): Promise<ItemList | undefined> {
    return this.sync.listItems(owner, conversationId, options);
  }
  async allItems(owner: Owner, conversationId: string): Promise<ConversationItem[] | undefined> {
    return this.sync.allItems(owner, conversationId);
  }
  async addItems(owner: Owner, conversationId: string, items: readonly NewItem[]): Promise<ConversationItem[] | undefined> {
    return this.sync.addItems(owner, conversationId, items);
  }
  async getItem(owner: Owner, conversationId: string, itemId: string): Promise<ConversationItem | undefined> {
    return this.sync.getItem(owner, conversationId, itemId);
  }
  async deleteItem(owner: Owner, conversationId: string, itemId: string): Promise<boolean> {
    return this.sync.deleteItem(owner, conversationId, itemId);
  }
  async getTokenHistory(owner: Owner, conversationId: string): Promise<TokenHistory | undefined> {
    return this.sync.getTokenHistory(owner, conversationId);
  }
  async commitTurn(owner: Owner, turn: CommitTurnInput): Promise<CommitTurnResult | undefined> {
    return this.sync.commitTurn(owner, turn);
  }
  async saveResponse(owner: Owner, input: SaveResponseInput): Promise<void> {
    this.sync.saveResponse(owner, input);
  }
  async getResponse(owner: Owner, id: string): Promise<StoredResponse | undefined> {
    return this.sync.getResponse(owner, id);
  }
  async getResponseTokens(owner: Owner, id: string): Promise<TokenHistory | undefined> {
    return this.sync.getResponseTokens(owner, id);
  }
  async deleteResponse(owner: Owner, id: string): Promise<boolean> {
    return this.sync.deleteResponse(owner, id);
  }
  async responseChain(owner: Owner, id: string): Promise<StoredResponse[] | undefined> {
    return this.sync.responseChain(owner, id);
  }
  async close(): Promise<void> {
    this.sync.close();
  }
}
