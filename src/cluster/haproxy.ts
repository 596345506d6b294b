// Running HAProxy (Debian's package) for a local cluster: check the configuration, run it in the
// foreground (-db), and read its view of the replicas over the admin socket (`show stat`), which
// is how the cluster knows HAProxy routes to every replica, and how the tests see when it takes
// a dead one out.

import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { startChild, type Child } from './child-process.js';

/** The haproxy binary's version line, or undefined when it is not installed. */
export function haproxyVersion(binary = 'haproxy'): string | undefined {
  const r = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return r.stdout.split('\n')[0]?.trim();
}

/** Throws with HAProxy's own messages when it refuses the configuration. */
export function checkHaproxyConfig(configFile: string, binary = 'haproxy'): void {
  const r = spawnSync(binary, ['-c', '-q', '-f', configFile], { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`cannot run ${binary}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`HAProxy refuses ${configFile}:\n${r.stdout}${r.stderr}`);
}

export function startHaproxy(configFile: string, onLine: (line: string) => void, binary = 'haproxy'): Child {
  return startChild('haproxy', binary, ['-db', '-f', configFile], onLine);
}

/** Sends one command to the admin socket and returns the whole answer. */
export function adminCommand(socket: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let answer = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`HAProxy admin socket ${socket}: no answer to '${command}' in ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${command}\n`));
    conn.on('data', (d: string) => (answer += d));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.on('end', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

export interface ServerStat {
  /** The server's name (the replica's). */
  name: string;
  /** UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up), MAINT, ... */
  status: string;
  /** Requests sent to it so far. */
  sessions: number;
}

/** HAProxy's view of the servers of one backend, from `show stat`. */
export async function serverStats(socket: string, backend = 'replicas'): Promise<ServerStat[]> {
  const csv = await adminCommand(socket, 'show stat');
  const lines = csv.split('\n').filter((l) => l !== '');
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`HAProxy show stat: no column '${name}'`);
    return i;
  };
  const [px, sv, status, stot] = [col('pxname'), col('svname'), col('status'), col('stot')];
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((f) => f[px] === backend && f[sv] !== 'BACKEND' && f[sv] !== 'FRONTEND')
    .map((f) => ({ name: f[sv]!, status: f[status]!, sessions: Number(f[stot]) }));
}
