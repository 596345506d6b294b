// A cluster on one machine for trying the multi-replica setup: N `pensieve serve` replicas and
// HAProxy in front of them with the shipped configuration (deploy/haproxy). It starts the
// replicas, waits until each serves, writes HAProxy's configuration into a run dir, starts
// HAProxy and waits until it sees every replica up. stop() drains: HAProxy stops listening and
// finishes what is in flight (SIGUSR1), each replica drains and writes its KV to disk (SIGTERM).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeExit, type Child, type Exit } from './child-process.js';
import { renderHaproxyConfig } from './haproxy-config.js';
import { checkHaproxyConfig, serverStats, startHaproxy } from './haproxy.js';
import { startReplica, waitHealthy, type Replica } from './replica.js';

export interface ClusterOptions {
  replicas: number;
  /** Where HAProxy listens: host:port. */
  bind: string;
  /** Replica i keeps its data in `<dataDir>/r<i>`; default: in the run dir, removed by stop(). */
  dataDir?: string;
  /** `pensieve serve` flags every replica gets. */
  serveArgs: readonly string[];
  haproxy?: string;
  /** How HAProxy balances: by routing key (default) or round robin (the benchmark's baseline). */
  balance?: 'affinity' | 'roundrobin';
  /** Every line the children write, with the writer's name. */
  onLine: (name: string, line: string) => void;
  /** Progress and events, one line each. */
  onEvent: (message: string) => void;
}

/** How long HAProxy may take to see every ready replica up (rise 2 checks, 1 s apart). */
const HAPROXY_UP_MS = 15_000;

export class LocalCluster {
  readonly runDir: string;
  readonly configFile: string;
  readonly statsSocket: string;
  readonly replicas: Replica[] = [];
  haproxy: Child | null = null;
  /** Every process started, listening or not: what stop() signals and waits for. */
  private readonly children: Child[] = [];
  private stopping: Promise<void> | null = null;

  constructor(readonly options: ClusterOptions) {
    this.runDir = mkdtempSync(join(tmpdir(), 'pensieve-cluster-'));
    this.configFile = join(this.runDir, 'haproxy.cfg');
    this.statsSocket = join(this.runDir, 'haproxy.sock');
  }

  get dataRoot(): string {
    return this.options.dataDir ?? join(this.runDir, 'data');
  }

  /** Starts everything; throws (having stopped what it started) if a part fails. */
  async start(): Promise<void> {
    const { options } = this;
    try {
      const names = Array.from({ length: options.replicas }, (_, i) => `r${i}`);
      const started = await Promise.allSettled(names.map((name) => {
        const dataDir = join(this.dataRoot, name);
        mkdirSync(dataDir, { recursive: true });
        const { child, listening } = startReplica({ name, dataDir, args: options.serveArgs }, (line) => options.onLine(name, line));
        this.children.push(child);
        // A stop() that came while this one was starting already signalled it.
        return listening;
      }));
      const failed = started.find((s) => s.status === 'rejected');
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      this.throwIfStopping();
      this.replicas.push(...started.map((s) => (s as PromiseFulfilledResult<Replica>).value));
      for (const r of this.replicas) options.onEvent(`replica ${r.name} (pid ${r.pid}) at ${r.origin}, data in ${join(this.dataRoot, r.name)}`);

      writeFileSync(this.configFile, renderHaproxyConfig({
        bind: options.bind,
        servers: this.replicas.map((r) => ({ name: r.name, address: r.address })),
        statsSocket: this.statsSocket,
        ...(options.balance === undefined ? {} : { balance: options.balance }),
      }));
      checkHaproxyConfig(this.configFile, options.haproxy);
      await Promise.all(this.replicas.map((r) => waitHealthy(r)));
      this.throwIfStopping();
      options.onEvent(`every replica serves; starting HAProxy on ${options.bind}`);

      this.haproxy = startHaproxy(this.configFile, (line) => options.onLine('haproxy', line), options.haproxy);
      this.children.push(this.haproxy);
      options.onEvent(`HAProxy (pid ${this.haproxy.pid}): config ${this.configFile}, admin socket ${this.statsSocket}`);
      await this.waitAllUp();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private throwIfStopping(): void {
    if (this.stopping !== null) throw new Error('stopped while starting');
  }

  /** Waits until HAProxy reports every replica UP. */
  private async waitAllUp(): Promise<void> {
    const deadline = Date.now() + HAPROXY_UP_MS;
    for (;;) {
      this.throwIfStopping();
      const haproxy = this.haproxy!;
      if (!haproxy.running()) throw new Error(`HAProxy ${describeExit(await haproxy.exited)}:\n${haproxy.tail()}`);
      const stats = await serverStats(this.statsSocket).catch(() => []);
      if (stats.length === this.replicas.length && stats.every((s) => s.status === 'UP')) return;
      if (Date.now() > deadline) throw new Error(`HAProxy does not see every replica up after ${HAPROXY_UP_MS / 1000} s: ${JSON.stringify(stats)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Resolves when the cluster is over: HAProxy exited (an error unless stop() was called), or
   * every replica did. A replica that dies alone is reported; HAProxy routes around it.
   */
  async wait(): Promise<{ ok: boolean; reason: string }> {
    const haproxy = this.haproxy!;
    for (const r of this.replicas) {
      void r.exited.then((e) => {
        if (this.stopping === null) this.options.onEvent(`replica ${r.name} ${describeExit(e)}; HAProxy routes around it`);
      });
    }
    const allReplicas = Promise.all(this.replicas.map((r) => r.exited)).then(() => 'replicas' as const);
    const ended = await Promise.race([haproxy.exited.then((e: Exit) => ({ what: 'haproxy' as const, e })), allReplicas]);
    if (this.stopping !== null) {
      await this.stopping;
      return { ok: true, reason: 'stopped' };
    }
    const reason = ended === 'replicas' ? 'every replica has exited' : `HAProxy ${describeExit(ended.e)}`;
    await this.stop();
    return { ok: false, reason };
  }

  /** Drains and stops everything (once); `force` (a second signal) ends it now. */
  stop(force = false): Promise<void> {
    if (force) {
      for (const c of this.children) c.signal('SIGTERM');
      return this.stopping ?? Promise.resolve();
    }
    this.stopping ??= (async () => {
      // HAProxy: stop listening, finish the requests in flight (SIGUSR1). Replicas: refuse new
      // requests, finish theirs, write the KV cache to disk (SIGTERM).
      for (const c of this.children) c.signal(c === this.haproxy ? 'SIGUSR1' : 'SIGTERM');
      await Promise.all(this.children.map((c) => c.exited));
      rmSync(this.runDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Last resort (the process is exiting): kills what still runs, without waiting. */
  kill(): void {
    for (const c of this.children) c.signal('SIGKILL');
  }
}
