// The PostgreSQL schema and its migrations: the same tables as the SQLite file (../schema.ts),
// in PostgreSQL's types. Replicas that start together race to migrate; a transaction-scoped
// advisory lock lets exactly one of them do it while the others wait and then find it done.

import type { PoolClient } from 'pg';

/** Migration i takes the schema from version i to i + 1. Never edit a shipped entry. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conversations (
    id           TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    metadata     TEXT NOT NULL,
    model        TEXT,
    tokens       BYTEA NOT NULL DEFAULT '\\x',
    history_text TEXT NOT NULL DEFAULT '',
    owner        TEXT
  );
  -- seq orders a conversation's items and is the pagination key; a sequence never reuses a value.
  CREATE TABLE items (
    seq             BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL,
    UNIQUE (conversation_id, id)
  );
  -- No foreign keys: deleting a conversation or a parent response leaves responses intact.
  CREATE TABLE responses (
    id                   TEXT PRIMARY KEY,
    created_at           BIGINT NOT NULL,
    model                TEXT NOT NULL,
    status               TEXT NOT NULL,
    previous_response_id TEXT,
    conversation_id      TEXT,
    instructions         TEXT,
    input                TEXT NOT NULL,
    output               TEXT NOT NULL,
    usage                TEXT,
    body                 TEXT NOT NULL,
    tokens               BYTEA NOT NULL,
    history_text         TEXT NOT NULL DEFAULT '',
    owner                TEXT
  );
  CREATE INDEX responses_by_conversation ON responses(conversation_id);
  `,
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

// Any fixed 64-bit key: pg_advisory locks are per database.
const MIGRATION_LOCK = 0x70656e7369657665n; // "pensieve"

export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    await client.query('CREATE TABLE IF NOT EXISTS pensieve_schema (version INTEGER NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM pensieve_schema');
    const from = rows[0]?.version ?? 0;
    if (from > MIGRATIONS.length) {
      throw new Error(`schema version ${from} is newer than this Pensieve knows (${MIGRATIONS.length})`);
    }
    for (let v = from; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]!);
    if (rows.length === 0) await client.query('INSERT INTO pensieve_schema (version) VALUES ($1)', [MIGRATIONS.length]);
    else await client.query('UPDATE pensieve_schema SET version = $1', [MIGRATIONS.length]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
