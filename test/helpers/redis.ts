// A scratch Redis server per test file: `redis-server` on a free loopback port, bounded and
// configured as the shared KV tier is meant to run (no persistence, maxmemory + allkeys-lru),
// stopped (and restartable on the same port) by the test. Without the binary the tests that
// need it skip, saying why (`apt-get install -y redis-server`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

const BINARY = 'redis-server';

export const NO_REDIS: string | false = spawnSync(BINARY, ['--version']).error === undefined
  ? false
  : `${BINARY} is not installed (apt-get install -y redis-server)`;

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT/0 */
  readonly url: string;
  /** Stops it (SIGKILL when `kill`, else a clean SIGTERM); its data is gone either way. */
  stop(kill?: boolean): Promise<void>;
  /** Starts it again on the same port (empty). */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered; resume() thaws it. */
  pause(): void;
  resume(): void;
}

/** Starts a redis-server for this test file; call stop() when done. */
export async function startRedis(maxmemory = '256mb'): Promise<RedisServer> {
  if (NO_REDIS) throw new Error(NO_REDIS);
  const port = await freePort();
  let child: ChildProcess | null = null;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', maxmemory, '--maxmemory-policy', 'allkeys-lru'];
    const proc = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child = proc;
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${err}`);
      if (await answersPing(port)) return;
      if (i > 100) throw new Error(`redis-server did not answer on port ${port}: ${err}`);
      await sleep(50);
    }
  };
  await launch();
  // A test that fails before stop() must not leave the server behind.
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop: async (kill = false) => {
      const c = child;
      child = null;
      if (c === null || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(kill ? 'SIGKILL' : 'SIGTERM');
      });
    },
    restart: launch,
    pause: () => void (child as ChildProcess | null)?.kill('SIGSTOP'),
    resume: () => void (child as ChildProcess | null)?.kill('SIGCONT'),
  };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
