// Opening the SQLite file: pragmas, the schema and its migrations. Everything that knows table
// layouts at the DDL level lives here, so a schema change is one new entry in MIGRATIONS.

import Database from 'better-sqlite3';

export type Db = Database.Database;

/**
 * Migration i takes the schema from version i to i + 1. Never edit a shipped entry: data dirs
 * in the wild are at every version, and each is upgraded by replaying the entries it lacks.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    metadata   TEXT NOT NULL CHECK (json_type(metadata) = 'object'),
    -- the model the token history was computed with: ids are meaningless under another tokenizer
    model      TEXT,
    tokens     BLOB NOT NULL DEFAULT x'',
    -- the text the tokens stand for (rendered prompt + generated text): the engine appends only
    -- the tokens of what a new turn's rendering adds after it
    history_text TEXT NOT NULL DEFAULT ''
  ) STRICT;

  -- seq orders a conversation's items and is the pagination key; AUTOINCREMENT so a deleted
  -- newest item's seq is never reused and an 'after' cursor never lands on a different item.
  CREATE TABLE items (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL CHECK (json_type(body) = 'object'),
    -- unique per conversation, not globally: clients may resend an item they got back elsewhere
    UNIQUE (conversation_id, id)
  ) STRICT;

  -- No foreign keys here: deleting a conversation or a parent response must leave responses
  -- that name them intact, as OpenAI does.
  CREATE TABLE responses (
    id                   TEXT PRIMARY KEY,
    created_at           INTEGER NOT NULL,
    model                TEXT NOT NULL,
    status               TEXT NOT NULL,
    previous_response_id TEXT,
    conversation_id      TEXT,
    instructions         TEXT,
    input                TEXT NOT NULL CHECK (json_type(input) = 'array'),
    output               TEXT NOT NULL CHECK (json_type(output) = 'array'),
    usage                TEXT,
    body                 TEXT NOT NULL CHECK (json_type(body) = 'object'),
    tokens               BLOB NOT NULL,
    history_text         TEXT NOT NULL DEFAULT ''
  ) STRICT;
  CREATE INDEX responses_by_conversation ON responses(conversation_id);
  `,
  // Tenants: the owner of a conversation or response is the API key's tenant that created it
  // (NULL on an open or single-key server, and for every row written before this migration).
  // Items need none: they are reached only through their conversation. Lookups stay on the
  // primary key and check the owner beside it, so no index is needed.
  `
  ALTER TABLE conversations ADD COLUMN owner TEXT;
  ALTER TABLE responses ADD COLUMN owner TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the database at `path` and brings its schema up to date. Any failure
 * — not a database, damaged, written by a newer Pensieve — becomes one Error naming the file.
 */
export function openDatabase(path: string): Db {
  let db: Db | undefined;
  try {
    db = new Database(path, { timeout: 5000 });
    // WAL: a commit appends to the -wal file and returns once the OS has the bytes, so a commit
    // that returned survives a crash or SIGKILL of this process. synchronous=NORMAL skips the
    // fsync per commit (it syncs at checkpoints), so only an OS crash or power loss can drop the
    // last few commits; the database itself stays consistent either way.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (err) {
    db?.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`pensieve store ${path}: cannot open: ${reason}`, { cause: err });
  }
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT');
  // IMMEDIATE: two processes opening a fresh data dir at once must not both run migration 0.
  db.transaction(() => {
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    const from = row?.version ?? 0;
    if (from > MIGRATIONS.length) {
      throw new Error(`schema version ${from} is newer than this Pensieve knows (${MIGRATIONS.length})`);
    }
    for (let v = from; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  }).immediate();
}
