// Stored responses: the API object for GET, the input items and token history for a later
// previous_response_id, and the walk back along previous_response_id that rebuilds a chain.
// Every read and write names the owner; another owner's response is as absent as a deleted one.

import type { Db } from './schema.js';
import { decodeTokens, encodeTokens } from './tokens.js';
import { parseItems, parseResponseObject, parseResponseStatus, parseUsage } from './validate.js';
import type { Owner, SaveResponseInput, StoredResponse, TokenHistory } from './types.js';

export interface ResponseRow {
  id: string;
  created_at: number;
  model: string;
  status: string;
  previous_response_id: string | null;
  conversation_id: string | null;
  instructions: string | null;
  input: string;
  output: string;
  usage: string | null;
  body: string;
}

// Everything but the token BLOB: GET and chain walks must not copy 400 KB per response.
export const RESPONSE_COLUMNS = `id, created_at, model, status, previous_response_id, conversation_id, instructions,
  input, output, usage, body`;

export class ResponseTable {
  private readonly saveStmt;
  private readonly getStmt;
  private readonly tokensStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    // An upsert: a response saved in_progress (background mode) is saved again when it ends.
    // The owner is set once, by the insert: a save under another owner never touches the row.
    this.saveStmt = db.prepare(
      `INSERT INTO responses (id, created_at, model, status, previous_response_id, conversation_id,
         instructions, input, output, usage, body, tokens, history_text, owner)
       VALUES (@id, @created_at, @model, @status, @previous_response_id, @conversation_id,
         @instructions, @input, @output, @usage, @body, @tokens, @history_text, @owner)
       ON CONFLICT (id) DO UPDATE SET
         created_at = excluded.created_at, model = excluded.model, status = excluded.status,
         previous_response_id = excluded.previous_response_id, conversation_id = excluded.conversation_id,
         instructions = excluded.instructions, input = excluded.input, output = excluded.output,
         usage = excluded.usage, body = excluded.body, tokens = excluded.tokens,
         history_text = excluded.history_text
       WHERE responses.owner IS excluded.owner`,
    );
    // `owner IS ?` rather than `=`: it matches NULL to NULL, the open server's owner.
    this.getStmt = db.prepare<[string, Owner], ResponseRow>(`SELECT ${RESPONSE_COLUMNS} FROM responses WHERE id = ? AND owner IS ?`);
    this.tokensStmt = db.prepare<[string, Owner], { model: string; tokens: Buffer; history_text: string }>(
      'SELECT model, tokens, history_text FROM responses WHERE id = ? AND owner IS ?',
    );
    this.deleteStmt = db.prepare<[string, Owner]>('DELETE FROM responses WHERE id = ? AND owner IS ?');
  }

  /** Takes every indexed column from the response object, so the two can never disagree. */
  save(owner: Owner, input: SaveResponseInput, encodedTokens: Buffer = encodeTokens(input.tokens)): void {
    this.saveStmt.run(responseValues(owner, input, encodedTokens));
  }

  get(owner: Owner, id: string): StoredResponse | undefined {
    const row = this.getStmt.get(id, owner);
    return row === undefined ? undefined : toStored(row);
  }

  tokens(owner: Owner, id: string): TokenHistory | undefined {
    const row = this.tokensStmt.get(id, owner);
    if (row === undefined) return undefined;
    return { tokens: decodeTokens(row.tokens, `response ${id}`), text: row.history_text, model: row.model };
  }

  delete(owner: Owner, id: string): boolean {
    return this.deleteStmt.run(id, owner).changes > 0;
  }

  /**
   * The responses from the root of `id`'s chain to `id` itself, oldest first. A parent that was
   * deleted ends the walk early: the caller sees chain[0].previousResponseId !== null and decides.
   * Ids are checked on the way so damaged rows that loop cannot hang the server.
   */
  chain(owner: Owner, id: string): StoredResponse[] | undefined {
    const newestFirst: StoredResponse[] = [];
    const seen = new Set<string>();
    for (let next: string | null = id; next !== null; ) {
      if (seen.has(next)) throw new Error(`pensieve store: response chain of ${id} loops at ${next}`);
      seen.add(next);
      const response = this.get(owner, next);
      if (response === undefined) break;
      newestFirst.push(response);
      next = response.previousResponseId;
    }
    return newestFirst.length === 0 ? undefined : newestFirst.reverse();
  }
}

/** The row of a response, every indexed column taken from the response object (for every backend). */
export function responseValues(owner: Owner, input: SaveResponseInput, encodedTokens: Buffer) {
  const o = input.object;
  return {
    id: o.id,
    created_at: o.created_at,
    model: o.model,
    status: o.status,
    previous_response_id: o.previous_response_id,
    conversation_id: o.conversation?.id ?? null,
    instructions: o.instructions,
    input: JSON.stringify(input.input),
    output: JSON.stringify(o.output),
    usage: o.usage === null ? null : JSON.stringify(o.usage),
    body: JSON.stringify(o),
    tokens: encodedTokens,
    history_text: input.text,
    owner,
  };
}

export function toStored(row: ResponseRow): StoredResponse {
  const where = `response ${row.id}`;
  const object = parseResponseObject(row.body, where);
  return {
    id: row.id,
    createdAt: row.created_at,
    model: row.model,
    status: parseResponseStatus(row.status, where),
    previousResponseId: row.previous_response_id,
    conversationId: row.conversation_id,
    instructions: row.instructions,
    input: parseItems(row.input, `${where} input`),
    output: parseItems(row.output, `${where} output`),
    usage: parseUsage(row.usage, `${where} usage`),
    object,
  };
}
