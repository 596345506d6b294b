// One replica of a local cluster: a `pensieve serve` child on a port the system picks (--port 0;
// the replica announces it as soon as it listens, before the model loads, so nothing races for a
// "free" port), with its own data dir and --replica-name (its X-Pensieve-Replica header). Ready
// once GET /health answers 200: it answers 503 while the model loads.

import { fileURLToPath } from 'node:url';
import { describeExit, startChild, type Child } from './child-process.js';

const CLI = fileURLToPath(new URL('../../bin/pensieve.js', import.meta.url));

/** The line serve writes once it listens (src/cli/serve.ts). */
const LISTENING = /^pensieve: listening on (http:\/\/\S+?), loading/;

export interface ReplicaSpec {
  name: string;
  dataDir: string;
  /** Further `pensieve serve` flags (engine flags, --store, ...). */
  args: readonly string[];
}

export interface Replica extends Child {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** 127.0.0.1:PORT, for HAProxy. */
  address: string;
}

export function replicaArgs(spec: ReplicaSpec): string[] {
  return [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', spec.dataDir, '--replica-name', spec.name, ...spec.args];
}

/** Starts the replica: the child at once (to stop it), and the replica once it listens (the model may still load). */
export function startReplica(spec: ReplicaSpec, onLine: (line: string) => void): { child: Child; listening: Promise<Replica> } {
  let found = false;
  let announce: (r: Replica) => void = () => {};
  const child = startChild(spec.name, process.execPath, replicaArgs(spec), (line) => {
    onLine(line);
    const m = found ? null : LISTENING.exec(line);
    if (m === null) return;
    found = true;
    announce({ ...child, origin: m[1]!, address: new URL(m[1]!).host });
  });
  const listening = new Promise<Replica>((resolve, reject) => {
    announce = resolve;
    void child.exited.then((exit) => {
      if (!found) reject(new Error(`replica ${spec.name} ${describeExit(exit)} before listening:\n${child.tail()}`));
    });
  });
  return { child, listening };
}

/** Resolves once /health answers 200; rejects if the replica exits first. */
export async function waitHealthy(replica: Replica, pollMs = 250): Promise<void> {
  for (;;) {
    if (!replica.running()) throw new Error(`replica ${replica.name} ${describeExit(await replica.exited)} while loading:\n${replica.tail()}`);
    try {
      const res = await fetch(`${replica.origin}/health`, { signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // Not answering yet, or busy loading: ask again.
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
