// What the server needs from a store of conversations, items, token histories and responses,
// whatever holds them: the embedded SQLite file of one process (sqlite-store.ts) or a PostgreSQL
// database that several replicas share (postgres/store.ts). Both pass test/store/conformance.
//
// Semantics every backend keeps (the SQLite Store documents each in full):
// - every call names the owner (the API key's tenant); another owner's id is an unknown id;
// - unknown ids give undefined/false (the server's 404); bad client arguments throw StoreInputError;
// - commitTurn writes the response, the conversation's new items and its new token history in one
//   transaction, or nothing; it returns undefined when the conversation no longer exists, and
//   throws StoreConflictError when the turn was already committed (an item id or the response id
//   is taken) or the response it continues was deleted meanwhile.

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

export interface NewConversationOptions {
  metadata?: Metadata;
  items?: readonly NewItem[];
  /** The routing key the new id carries (16 lowercase hex, see ids.ts); random when not given. */
  routeKey?: string;
}

export interface ConversationStore {
  /** Where the data lives, for logs: a file path, or a database URL without its password. */
  readonly location: string;
  createConversation(owner: Owner, options?: NewConversationOptions): Promise<Conversation>;
  getConversation(owner: Owner, id: string): Promise<Conversation | undefined>;
  updateConversation(owner: Owner, id: string, update: { metadata: Metadata }): Promise<Conversation | undefined>;
  deleteConversation(owner: Owner, id: string): Promise<boolean>;
  listItems(owner: Owner, conversationId: string, options?: ListItemsOptions): Promise<ItemList | undefined>;
  allItems(owner: Owner, conversationId: string): Promise<ConversationItem[] | undefined>;
  addItems(owner: Owner, conversationId: string, items: readonly NewItem[]): Promise<ConversationItem[] | undefined>;
  getItem(owner: Owner, conversationId: string, itemId: string): Promise<ConversationItem | undefined>;
  deleteItem(owner: Owner, conversationId: string, itemId: string): Promise<boolean>;
  getTokenHistory(owner: Owner, conversationId: string): Promise<TokenHistory | undefined>;
  commitTurn(owner: Owner, turn: CommitTurnInput): Promise<CommitTurnResult | undefined>;
  saveResponse(owner: Owner, input: SaveResponseInput): Promise<void>;
  getResponse(owner: Owner, id: string): Promise<StoredResponse | undefined>;
  getResponseTokens(owner: Owner, id: string): Promise<TokenHistory | undefined>;
  deleteResponse(owner: Owner, id: string): Promise<boolean>;
  responseChain(owner: Owner, id: string): Promise<StoredResponse[] | undefined>;
  close(): Promise<void>;
}

/** A turn that cannot be committed as asked: it was committed already, or what it continues is gone. */
export class StoreConflictError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreConflictError';
  }
}

/** Checks a turn's shape before any backend writes it (the same rules everywhere). */
export function checkTurn(turn: CommitTurnInput): void {
  const { conversationId, response } = turn;
  if (conversationId === undefined && response === undefined) {
    throw new Error('commitTurn needs a conversation, a response, or both');
  }
  if (conversationId === undefined && turn.newItems.length > 0) {
    throw new Error('commitTurn: items belong to a conversation, and none was given');
  }
  const linked = response?.object.conversation?.id;
  if (response !== undefined && linked !== conversationId) {
    throw new Error(`commitTurn: response ${response.object.id} names conversation ${linked ?? 'none'}, turn is for ${conversationId ?? 'none'}`);
  }
}
