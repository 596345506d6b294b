// The store on PostgreSQL (`--store postgres://…`): what replicas share, so any of them can
// continue any conversation. Same tables and semantics as the SQLite file; each multi-row write
// is one transaction, and commitTurn checks in that transaction what the turn continues.

import pg from 'pg';
import { checkTurn, StoreConflictError, type ConversationStore, type NewConversationOptions } from '../conversation-store.js';
import { newId } from '../ids.js';
import { completeItem, itemPage, pageOptions, toItem, unknownCursor, type ItemRow } from '../items.js';
import { RESPONSE_COLUMNS, responseValues, toStored, type ResponseRow } from '../responses.js';
import { decodeTokens, encodeTokens } from '../tokens.js';
import { checkMetadata, parseMetadata } from '../validate.js';
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
} from '../types.js';
import { migrate } from './schema.js';

type Client = pg.PoolClient;
type Queryable = pg.Pool | pg.PoolClient;

// BIGINT comes back as text from node-postgres; the values here are seconds and sequence numbers.
const CONVERSATION_COLUMNS = 'id, created_at::float8 AS created_at, metadata';
const ITEM_COLUMNS = 'seq::float8 AS seq, body';
const RESPONSE_SELECT = RESPONSE_COLUMNS.replace('created_at', 'created_at::float8 AS created_at');
// Responses chains are walked in one recursive query; this bounds a damaged one that loops.
const MAX_CHAIN = 100_000;
const UNIQUE_VIOLATION = '23505';

interface ConversationRow {
  id: string;
  created_at: number;
  metadata: string;
}

class UnknownConversation extends Error {}

export class PostgresStore implements ConversationStore {
  readonly location: string;

  private constructor(private readonly pool: pg.Pool, url: string) {
    this.location = redactPassword(url);
  }

  /** Connects, and brings the schema up to date (one replica migrates, the others wait). */
  static async open(url: string, options: { maxConnections?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 8 });
    // An idle connection the server closed (restart, failover) is dropped from the pool and
    // replaced on next use; without a listener node would treat it as an uncaught error.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`pensieve store ${redactPassword(url)}: cannot open: ${(err as Error).message}`, { cause: err });
    }
    return new PostgresStore(pool, url);
  }

  async createConversation(owner: Owner, options: NewConversationOptions = {}): Promise<Conversation> {
    const metadata = checkMetadata(options.metadata ?? {});
    const conversation: Conversation = { id: newId('conv', options.routeKey), object: 'conversation', created_at: Math.floor(Date.now() / 1000), metadata };
    await this.transaction(async (c) => {
      await c.query('INSERT INTO conversations (id, created_at, metadata, owner) VALUES ($1, $2, $3, $4)', [
        conversation.id, conversation.created_at, JSON.stringify(metadata), owner,
      ]);
      await appendItems(c, conversation.id, options.items ?? []);
    });
    return conversation;
  }

  async getConversation(owner: Owner, id: string): Promise<Conversation | undefined> {
    const { rows } = await this.pool.query<ConversationRow>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND owner IS NOT DISTINCT FROM $2`, [id, owner],
    );
    return rows[0] === undefined ? undefined : toConversation(rows[0]);
  }

  async updateConversation(owner: Owner, id: string, update: { metadata: Metadata }): Promise<Conversation | undefined> {
    const metadata = checkMetadata(update.metadata);
    const { rows } = await this.pool.query<ConversationRow>(
      `UPDATE conversations SET metadata = $1 WHERE id = $2 AND owner IS NOT DISTINCT FROM $3 RETURNING ${CONVERSATION_COLUMNS}`,
      [JSON.stringify(metadata), id, owner],
    );
    return rows[0] === undefined ? undefined : toConversation(rows[0]);
  }

  async deleteConversation(owner: Owner, id: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM conversations WHERE id = $1 AND owner IS NOT DISTINCT FROM $2', [id, owner]);
    return (r.rowCount ?? 0) > 0;
  }

  async listItems(owner: Owner, conversationId: string, options: ListItemsOptions = {}): Promise<ItemList | undefined> {
    // As the SQLite store: an unknown conversation is a 404 before its page options are checked.
    if (!(await hasConversation(this.pool, owner, conversationId))) return undefined;
    const { limit, order } = pageOptions(options);
    let cursor: number | null = null;
    if (options.after !== undefined) {
      const { rows } = await this.pool.query<{ seq: number }>(
        'SELECT seq::float8 AS seq FROM items WHERE conversation_id = $1 AND id = $2', [conversationId, options.after],
      );
      if (rows[0] === undefined) throw unknownCursor(conversationId, options.after);
      cursor = rows[0].seq;
    }
    const sql = order === 'asc'
      ? `SELECT ${ITEM_COLUMNS} FROM items WHERE conversation_id = $1 AND ($2::float8 IS NULL OR seq > $2) ORDER BY seq ASC LIMIT $3`
      : `SELECT ${ITEM_COLUMNS} FROM items WHERE conversation_id = $1 AND ($2::float8 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3`;
    const { rows } = await this.pool.query<ItemRow>(sql, [conversationId, cursor, limit + 1]);
    return itemPage(rows, limit);
  }

  async allItems(owner: Owner, conversationId: string): Promise<ConversationItem[] | undefined> {
    if (!(await hasConversation(this.pool, owner, conversationId))) return undefined;
    const { rows } = await this.pool.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM items WHERE conversation_id = $1 ORDER BY seq ASC`, [conversationId],
    );
    return rows.map(toItem);
  }

  async addItems(owner: Owner, conversationId: string, items: readonly NewItem[]): Promise<ConversationItem[] | undefined> {
    return this.transaction(async (c) => {
      if (!(await hasConversation(c, owner, conversationId, 'FOR UPDATE'))) return undefined;
      return appendItems(c, conversationId, items);
    });
  }

  async getItem(owner: Owner, conversationId: string, itemId: string): Promise<ConversationItem | undefined> {
    if (!(await hasConversation(this.pool, owner, conversationId))) return undefined;
    const { rows } = await this.pool.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM items WHERE conversation_id = $1 AND id = $2`, [conversationId, itemId],
    );
    return rows[0] === undefined ? undefined : toItem(rows[0]);
  }

  async deleteItem(owner: Owner, conversationId: string, itemId: string): Promise<boolean> {
    return this.transaction(async (c) => {
      if (!(await hasConversation(c, owner, conversationId, 'FOR UPDATE'))) return false;
      const r = await c.query('DELETE FROM items WHERE conversation_id = $1 AND id = $2', [conversationId, itemId]);
      if ((r.rowCount ?? 0) === 0) return false;
      // The past changed: the token history no longer describes the conversation.
      await c.query("UPDATE conversations SET tokens = '\\x', history_text = '' WHERE id = $1", [conversationId]);
      return true;
    });
  }

  async getTokenHistory(owner: Owner, conversationId: string): Promise<TokenHistory | undefined> {
    const { rows } = await this.pool.query<{ model: string | null; tokens: Buffer; history_text: string }>(
      'SELECT model, tokens, history_text FROM conversations WHERE id = $1 AND owner IS NOT DISTINCT FROM $2', [conversationId, owner],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { tokens: decodeTokens(row.tokens, `conversation ${conversationId}`), text: row.history_text, model: row.model };
  }

  async commitTurn(owner: Owner, turn: CommitTurnInput): Promise<CommitTurnResult | undefined> {
    checkTurn(turn);
    const { conversationId, response } = turn;
    const tokens = encodeTokens(turn.tokenHistory);
    try {
      return await this.transaction(async (c): Promise<CommitTurnResult> => {
        if (response !== undefined) {
          const parent = response.object.previous_response_id;
          if (parent !== null) {
            // FOR SHARE: a delete of the parent waits for this commit, or this waits for it.
            const { rowCount } = await c.query('SELECT 1 FROM responses WHERE id = $1 AND owner IS NOT DISTINCT FROM $2 FOR SHARE', [parent, owner]);
            if (rowCount === 0) throw new StoreConflictError(`response ${parent}, which this turn continues, was deleted during the turn`);
          }
          await saveResponse(c, owner, { ...response, tokens: turn.tokenHistory, text: turn.historyText }, tokens);
        }
        if (conversationId === undefined) return { items: [] };
        const r = await c.query(
          'UPDATE conversations SET tokens = $1, history_text = $2, model = $3 WHERE id = $4 AND owner IS NOT DISTINCT FROM $5',
          [tokens, turn.historyText, turn.model, conversationId, owner],
        );
        if ((r.rowCount ?? 0) === 0) throw new UnknownConversation();
        return { items: await appendItems(c, conversationId, turn.newItems) };
      });
    } catch (err) {
      if (err instanceof UnknownConversation) return undefined;
      if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) {
        throw new StoreConflictError(`conversation ${conversationId}: this turn's items are stored already (${(err as Error).message})`, { cause: err });
      }
      throw err;
    }
  }

  async saveResponse(owner: Owner, input: SaveResponseInput): Promise<void> {
    await saveResponse(this.pool, owner, input, encodeTokens(input.tokens));
  }

  async getResponse(owner: Owner, id: string): Promise<StoredResponse | undefined> {
    const { rows } = await this.pool.query<ResponseRow>(
      `SELECT ${RESPONSE_SELECT} FROM responses WHERE id = $1 AND owner IS NOT DISTINCT FROM $2`, [id, owner],
    );
    return rows[0] === undefined ? undefined : toStored(rows[0]);
  }

  async getResponseTokens(owner: Owner, id: string): Promise<TokenHistory | undefined> {
    const { rows } = await this.pool.query<{ model: string; tokens: Buffer; history_text: string }>(
      'SELECT model, tokens, history_text FROM responses WHERE id = $1 AND owner IS NOT DISTINCT FROM $2', [id, owner],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { tokens: decodeTokens(row.tokens, `response ${id}`), text: row.history_text, model: row.model };
  }

  async deleteResponse(owner: Owner, id: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM responses WHERE id = $1 AND owner IS NOT DISTINCT FROM $2', [id, owner]);
    return (r.rowCount ?? 0) > 0;
  }

  /** Oldest first, ending at `id`, in one recursive query; a deleted parent ends the chain early. */
  async responseChain(owner: Owner, id: string): Promise<StoredResponse[] | undefined> {
    const { rows } = await this.pool.query<ResponseRow & { depth: number }>(
      `WITH RECURSIVE chain AS (
         SELECT ${RESPONSE_SELECT}, 0 AS depth FROM responses WHERE id = $1 AND owner IS NOT DISTINCT FROM $2
         UNION ALL
         SELECT ${prefixed('r', RESPONSE_SELECT)}, chain.depth + 1 FROM responses r
           JOIN chain ON r.id = chain.previous_response_id
           WHERE r.owner IS NOT DISTINCT FROM $2 AND chain.depth < $3
       ) SELECT * FROM chain ORDER BY depth DESC`,
      [id, owner, MAX_CHAIN],
    );
    if (rows.length === 0) return undefined;
    if (new Set(rows.map((r) => r.id)).size !== rows.length) {
      throw new Error(`pensieve store: response chain of ${id} loops`);
    }
    return rows.map(toStored);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}

async function hasConversation(q: Queryable, owner: Owner, id: string, lock: '' | 'FOR UPDATE' = ''): Promise<boolean> {
  const r = await q.query(`SELECT 1 FROM conversations WHERE id = $1 AND owner IS NOT DISTINCT FROM $2 ${lock}`, [id, owner]);
  return (r.rowCount ?? 0) > 0;
}

async function appendItems(c: Client, conversationId: string, items: readonly NewItem[]): Promise<ConversationItem[]> {
  const out: ConversationItem[] = [];
  for (const newItem of items) {
    const item = completeItem(newItem);
    await c.query('INSERT INTO items (conversation_id, id, type, body) VALUES ($1, $2, $3, $4)', [conversationId, item.id, item.type, JSON.stringify(item)]);
    out.push(item);
  }
  return out;
}

/** An upsert, as in SQLite: a background response saved in_progress is saved again when it ends. */
async function saveResponse(q: Queryable, owner: Owner, input: SaveResponseInput, tokens: Buffer): Promise<void> {
  const v = responseValues(owner, input, tokens);
  await q.query(
    `INSERT INTO responses (id, created_at, model, status, previous_response_id, conversation_id,
       instructions, input, output, usage, body, tokens, history_text, owner)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (id) DO UPDATE SET
       created_at = EXCLUDED.created_at, model = EXCLUDED.model, status = EXCLUDED.status,
       previous_response_id = EXCLUDED.previous_response_id, conversation_id = EXCLUDED.conversation_id,
       instructions = EXCLUDED.instructions, input = EXCLUDED.input, output = EXCLUDED.output,
       usage = EXCLUDED.usage, body = EXCLUDED.body, tokens = EXCLUDED.tokens, history_text = EXCLUDED.history_text
     WHERE responses.owner IS NOT DISTINCT FROM EXCLUDED.owner`,
    [v.id, v.created_at, v.model, v.status, v.previous_response_id, v.conversation_id, v.instructions,
      v.input, v.output, v.usage, v.body, v.tokens, v.history_text, v.owner],
  );
}

function toConversation(row: ConversationRow): Conversation {
  return { id: row.id, object: 'conversation', created_at: row.created_at, metadata: parseMetadata(row.metadata, `conversation ${row.id}`) };
}

/** "a, b::x AS b" -> "r.a, r.b::x AS b": the column list read from table alias `alias`. */
function prefixed(alias: string, columns: string): string {
  return columns.split(',').map((c) => `${alias}.${c.trim()}`).join(', ');
}

/** The URL with its password replaced, for logs and errors. */
export function redactPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
