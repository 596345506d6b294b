// `pensieve cluster` as a child process for the replica tests: started with its own flags,
// parsed from its output (each replica's pid, the admin socket, the run dir, and which replica
// logged each request id), and stopped with SIGTERM (drain) or, after 30 s, SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './paths.js';

export interface Cluster {
  child: ChildProcess;
  origin: string;
  socket: string;
  runDir: string;
  pids: Map<string, number>;
  /** Which replica logged the request with this id, once it has. */
  servedBy(requestId: string): Promise<string>;
  output(): string;
}

export function startCluster(args: string[]): Promise<Cluster> {
  const child = spawn(process.execPath, [CLI, 'cluster', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const pids = new Map<string, number>();
  const served = new Map<string, string>();
  let out = '';
  let pending = '';
  let socket = '';
  let runDir = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cluster did not start:\n${out}`)), 90_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cluster exited with ${code}:\n${out}`));
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      out += chunk;
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const log = /^(r\d+)\s+\| (\{.*\})$/.exec(line);
        if (log !== null) {
          const record = JSON.parse(log[2]!) as { msg?: string; reqId?: string };
          if (record.msg === 'request' && record.reqId !== undefined) served.set(record.reqId, log[1]!);
          continue;
        }
        let m = /^pensieve cluster: replica (r\d+) \(pid (\d+)\)/.exec(line);
        if (m !== null) pids.set(m[1]!, Number(m[2]));
        m = /run dir (\S+)$/.exec(line);
        if (m !== null) runDir = m[1]!;
        m = /admin socket (\S+)$/.exec(line);
        if (m !== null) socket = m[1]!;
        m = /^pensieve cluster: serving at (http:\/\/\S+)\/v1/.exec(line);
        if (m !== null) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({
            child, origin: m[1]!, socket, runDir, pids,
            output: () => out,
            async servedBy(requestId) {
              // The replica logs a request when its response is done, a moment after the client has it.
              for (let i = 0; i < 100 && !served.has(requestId); i++) await new Promise((r) => setTimeout(r, 20));
              const name = served.get(requestId);
              if (name === undefined) throw new Error(`no replica logged request ${requestId}`);
              return name;
            },
          });
        }
      }
    });
  });
}

export function stopCluster(c: Cluster): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.child.exitCode !== null || c.child.signalCode !== null) return resolve(c.child.exitCode);
    const force = setTimeout(() => {
      c.child.kill('SIGKILL');
      for (const pid of c.pids.values()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }, 30_000);
    c.child.once('exit', (code) => {
      clearTimeout(force);
      resolve(code);
    });
    c.child.kill('SIGTERM');
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The response a streamed Responses turn ends with (its response.completed event). */
export function completedResponse(sse: string): Record<string, unknown> {
  for (const m of sse.matchAll(/^data: (.*)$/gm)) {
    const event = JSON.parse(m[1]!) as { type: string; response?: Record<string, unknown> };
    if (event.type === 'response.completed' || event.type === 'response.incomplete') return event.response!;
  }
  throw new Error(`no response.completed event in:\n${sse}`);
}
