// A graceful stop of the HTTP side, bounded by a deadline: stop accepting connections, close the
// idle ones at once, let the requests in flight finish until the deadline, then cut what is left
// (a stream gets a final error event, a plain request a 503) and close every connection. The
// engine and the store are the caller's: it closes them after this (serve.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { ConnectionTracker } from './connections.js';
import type { ServerLifecycle } from './lifecycle.js';

/** How long cut requests get to write their error and end before their connections are destroyed. */
const CUT_GRACE_MS = 1000;

export interface DrainReport {
  /** Requests still running at the deadline, ended with an error. */
  cut: number;
  /** Connections that had to be destroyed at the end. */
  destroyed: number;
}

/** Drains the server until `deadline` (a performance.now() time); resolves once it is closed. */
export async function drainServer(
  app: FastifyInstance, lifecycle: ServerLifecycle, connections: ConnectionTracker, deadline: number,
): Promise<DrainReport> {
  lifecycle.beginDrain();
  // Stops listening; resolves once every connection is gone.
  const closed = app.close();
  connections.closeIdle();
  const inTime = await race(connections.drained(), deadline - performance.now());
  let cut = 0;
  if (!inTime) {
    cut = lifecycle.cutAll();
    await race(connections.drained(), CUT_GRACE_MS);
  }
  // Connections told to close get a moment to flush their last bytes; then nothing stays open.
  let destroyed = 0;
  if (!(await race(closed, CUT_GRACE_MS))) {
    destroyed = connections.openConnections;
    connections.destroyAll();
    await closed;
  }
  return { cut, destroyed };
}

/** Whether `p` settled within `ms` (never waits longer). */
async function race(p: Promise<unknown>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const timer = sleep(Math.max(0, ms), false, { signal: ac.signal }).catch(() => true);
  const settled = await Promise.race([p.then(() => true, () => true), timer]);
  ac.abort();
  return settled;
}
