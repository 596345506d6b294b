// A conversation's items: appending, fetching one, and OpenAI-style cursor pagination. Order is
// the autoincrement seq, i.e. the order items were committed in; ids are only cursors.

import type { Db } from './schema.js';
import { newItemId } from './ids.js';
import { StoreInputError, parseItem } from './validate.js';
import type { ConversationItem, ItemList, ListItemsOptions, NewItem } from './types.js';

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
// Beyond any seq SQLite will hand out while staying a safe JS integer.
const NO_UPPER_BOUND = Number.MAX_SAFE_INTEGER;

export interface ItemRow {
  seq: number;
  body: string;
}

/** Gives a client's or the engine's item the id and status a stored item always has. */
export function completeItem(item: NewItem): ConversationItem {
  return { ...item, id: item.id ?? newItemId(item.type), status: item.status ?? 'completed' } as ConversationItem;
}

export class ItemTable {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly deleteStmt;
  private readonly pageAscStmt;
  private readonly pageDescStmt;
  private readonly allStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare<[string, string, string, string]>(
      'INSERT INTO items (conversation_id, id, type, body) VALUES (?, ?, ?, ?)',
    );
    this.getStmt = db.prepare<[string, string], ItemRow>(
      'SELECT seq, body FROM items WHERE conversation_id = ? AND id = ?',
    );
    this.deleteStmt = db.prepare<[string, string]>('DELETE FROM items WHERE conversation_id = ? AND id = ?');
    this.pageAscStmt = db.prepare<[string, number, number], ItemRow>(
      'SELECT seq, body FROM items WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?',
    );
    this.pageDescStmt = db.prepare<[string, number, number], ItemRow>(
      'SELECT seq, body FROM items WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    );
    this.allStmt = db.prepare<[string], ItemRow>('SELECT seq, body FROM items WHERE conversation_id = ? ORDER BY seq ASC');
  }

  /** Appends items in order; the caller owns the transaction and has checked the conversation. */
  append(conversationId: string, items: readonly NewItem[]): ConversationItem[] {
    return items.map((newItem) => {
      const item = completeItem(newItem);
      this.insertStmt.run(conversationId, item.id, item.type, JSON.stringify(item));
      return item;
    });
  }

  get(conversationId: string, itemId: string): ConversationItem | undefined {
    const row = this.getStmt.get(conversationId, itemId);
    return row === undefined ? undefined : toItem(row);
  }

  delete(conversationId: string, itemId: string): boolean {
    return this.deleteStmt.run(conversationId, itemId).changes > 0;
  }

  /** Every item, oldest first: what the engine renders when it must rebuild a prompt. */
  all(conversationId: string): ConversationItem[] {
    return this.allStmt.all(conversationId).map(toItem);
  }

  /**
   * One page, OpenAI semantics: `order` picks the direction, `after` is the last id the client
   * saw and the page holds the items past it in that direction; has_more says whether another
   * page follows. A limit+1 read answers has_more without a COUNT.
   */
  page(conversationId: string, options: ListItemsOptions = {}): ItemList {
    const { limit, order } = pageOptions(options);
    let cursor = order === 'asc' ? 0 : NO_UPPER_BOUND;
    if (options.after !== undefined) {
      const row = this.getStmt.get(conversationId, options.after);
      if (row === undefined) throw unknownCursor(conversationId, options.after);
      cursor = row.seq;
    }
    const stmt = order === 'asc' ? this.pageAscStmt : this.pageDescStmt;
    return itemPage(stmt.all(conversationId, cursor, limit + 1), limit);
  }
}

/** A page request's limit and order, checked (the same rules for every backend). */
export function pageOptions(options: ListItemsOptions): { limit: number; order: 'asc' | 'desc' } {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new StoreInputError('limit', `limit must be an integer from 1 to ${MAX_LIMIT}; got ${limit}`);
  }
  const order = options.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw new StoreInputError('order', `order must be 'asc' or 'desc'; got '${String(order)}'`);
  }
  return { limit, order };
}

/**
 * A cursor from another conversation or a deleted item cannot be placed: say so rather than
 * silently restarting from the first page.
 */
export function unknownCursor(conversationId: string, after: string): StoreInputError {
  return new StoreInputError('after', `no item '${after}' in conversation '${conversationId}'`);
}

/** The page from limit + 1 rows read past the cursor: the extra row only answers has_more. */
export function itemPage(rows: readonly ItemRow[], limit: number): ItemList {
  const data = rows.slice(0, limit).map(toItem);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: rows.length > limit,
  };
}

export function toItem(row: ItemRow): ConversationItem {
  return parseItem(row.body, `item #${row.seq}`);
}
