// A scratch PostgreSQL database per test file, on the server PENSIEVE_TEST_POSTGRES_URL names
// (scripts/services.sh starts one on 127.0.0.1 and prints the URL; .ci/run exports it). Without
// the variable the PostgreSQL tests skip, saying why.

import pg from 'pg';

export const POSTGRES_URL = process.env.PENSIEVE_TEST_POSTGRES_URL;
export const NO_POSTGRES = POSTGRES_URL === undefined ? 'PENSIEVE_TEST_POSTGRES_URL is not set (scripts/services.sh start sets up one)' : false;

/** Creates an empty database and returns its URL and a function that drops it. */
export async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (POSTGRES_URL === undefined) throw new Error(String(NO_POSTGRES));
  const name = `pensieve_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
