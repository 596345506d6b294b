// A real HAProxy (Debian's package) for the routing tests, running the shipped configuration
// (deploy/haproxy) in front of whatever servers a test gives it. Without the haproxy binary the
// tests skip, saying why (.ci/run and scripts/services.sh install it).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { renderHaproxyConfig, type HaproxyServer } from '../../src/cluster/haproxy-config.js';
import { checkHaproxyConfig, haproxyVersion, serverStats, startHaproxy } from '../../src/cluster/haproxy.js';
import { freePort } from './free-port.js';

export const NO_HAPROXY = haproxyVersion() === undefined ? 'haproxy is not installed (apt-get install -y haproxy)' : false;

export { freePort };

export interface RunningHaproxy {
  /** http://127.0.0.1:PORT */
  origin: string;
  socket: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts HAProxy with the shipped config before `servers` and waits until it sees them all up. */
export async function runHaproxy(servers: readonly HaproxyServer[]): Promise<RunningHaproxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pensieve-haproxy-'));
  const port = await freePort();
  const socket = path.join(dir, 'haproxy.sock');
  const configFile = path.join(dir, 'haproxy.cfg');
  writeFileSync(configFile, renderHaproxyConfig({ bind: `127.0.0.1:${port}`, servers, statsSocket: socket }));
  checkHaproxyConfig(configFile);
  let out = '';
  const child = startHaproxy(configFile, (line) => (out += `${line}\n`));
  const stop = async () => {
    child.signal('SIGTERM');
    await child.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!child.running()) {
      await stop();
      throw new Error(`haproxy exited:\n${out}`);
    }
    const stats = await serverStats(socket).catch(() => []);
    if (stats.length === servers.length && stats.every((s) => s.status === 'UP')) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy does not see its servers up: ${JSON.stringify(stats)}\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { origin: `http://127.0.0.1:${port}`, socket, output: () => out, stop };
}
