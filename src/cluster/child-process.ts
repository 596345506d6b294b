// What the cluster needs of each process it starts (replicas, HAProxy): its output as lines,
// prefixed with its name so that N interleaved logs stay readable, and its end as a promise.
// Children run in their own process group (detached), so a terminal's Ctrl-C reaches only the
// cluster command, which forwards one signal to each: a replica that got SIGINT twice would
// skip its drain and exit at once.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** Whether it is still running. */
  running(): boolean;
  /** The last lines it wrote, for an error message. */
  tail(): string;
  /** Sends a signal if it still runs. */
  signal(signal: NodeJS.Signals): void;
}

/** Lines of a stream, each handed to `onLine` as it completes; a last unterminated one at the end. */
export function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending);
  });
}

const TAIL_LINES = 20;

export function startChild(name: string, command: string, args: readonly string[], onLine: (line: string) => void): Child {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const recent: string[] = [];
  const take = (line: string) => {
    recent.push(line);
    if (recent.length > TAIL_LINES) recent.shift();
    onLine(line);
  };
  eachLine(child.stdout!, take);
  eachLine(child.stderr!, take);
  let done = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (err) => {
      take(`${command}: ${err.message}`);
      done = true;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  return {
    name,
    process: child,
    pid: child.pid ?? -1,
    exited,
    running: () => !done,
    tail: () => recent.join('\n'),
    signal: (signal) => {
      if (!done) child.kill(signal);
    },
  };
}

export function describeExit(e: Exit): string {
  return e.signal !== null ? `killed by ${e.signal}` : e.code === null ? 'failed to start' : `exited with status ${e.code}`;
}
