// Starts `pensieve serve` as a child process on a free loopback port and
// returns its base URL; the caller kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './paths.js';

export interface ServerProcess {
  child: ChildProcess;
  baseURL: string;
  stderr: () => string;
}

export function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 30000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /at (http:\/\/[^ ]+\/v1)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, baseURL: m[1]!, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
}

export function stopServer(s: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve(s.child.exitCode);
    s.child.once('exit', (code) => resolve(code));
    s.child.kill(signal);
  });
}
