// Opening the store a `--store` flag names: the embedded SQLite file in the data dir (the
// default), or a PostgreSQL database shared by replicas (`postgres://` or `postgresql://` URL).

import type { ConversationStore } from './conversation-store.js';
import { PostgresStore } from './postgres/store.js';
import { SqliteStore } from './sqlite-store.js';

export type StoreLocation = { kind: 'sqlite'; dataDir: string } | { kind: 'postgres'; url: string };

/** The location a --store value names; undefined (no flag) is the SQLite file in `dataDir`. */
export function storeLocationFromFlag(flag: string | undefined, dataDir: string): StoreLocation {
  if (flag === undefined || flag === 'sqlite') return { kind: 'sqlite', dataDir };
  if (/^postgres(ql)?:\/\//.test(flag)) return { kind: 'postgres', url: flag };
  throw new Error(`--store ${JSON.stringify(flag)}: expected "sqlite" or a postgres:// URL`);
}

export async function openStore(location: StoreLocation): Promise<ConversationStore> {
  return location.kind === 'sqlite' ? SqliteStore.open(location.dataDir) : PostgresStore.open(location.url);
}
