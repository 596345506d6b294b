// The server's log: fastify's own logger (pino), one record per line, written as JSON (for log
// collectors) or as a readable line with the same fields (for a terminal). Both go through
// pino, so every line — request, server error, fastify's own — has a time and, inside a
// request, its request id; only the final rendering differs.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyServerOptions } from 'fastify';

export type LogFormat = 'text' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** A client's x-request-id is kept when it is printable ASCII without spaces, of bounded length. */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's x-request-id when it is safe to echo and log, else a new one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && CLIENT_REQUEST_ID.test(given)) return given;
  return randomUUID();
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** The fields of one per-request record (see request-log.ts). */
export interface RequestRecord {
  remote: string;
  method: string;
  url: string;
  status: number;
  /** The client left before the response was complete. */
  client_gone?: true;
  prompt_tokens?: number;
  completion_tokens?: number;
  cached_tokens?: number;
  /** The request's `user` (or `safety_identifier`) field, as the client sent it. */
  user?: string;
  duration_ms: number;
}

/** One pino record as a line: `time reqId remote METHOD url status [tokens] 12.3ms`, or `time LEVEL [reqId] msg`. */
export function textLine(record: Record<string, unknown>): string {
  const time = String(record.time ?? '');
  const id = typeof record.reqId === 'string' ? ` ${record.reqId}` : '';
  if (record.msg === 'request' && typeof record.method === 'string') {
    const r = record as unknown as RequestRecord;
    const status = r.client_gone === true ? `${r.status}(client gone)` : String(r.status);
    const tokens = r.prompt_tokens === undefined ? '' : ` prompt=${r.prompt_tokens} completion=${r.completion_tokens} cached=${r.cached_tokens}`;
    // JSON-quoted: a user string cannot break the line or forge another field.
    const user = r.user === undefined ? '' : ` user=${JSON.stringify(r.user)}`;
    return `${time}${id} ${r.remote} ${r.method} ${r.url} ${status}${tokens}${user} ${r.duration_ms}ms`;
  }
  const level = LEVELS[record.level as number] ?? String(record.level);
  return `${time} ${level}${id} ${String(record.msg ?? '')}`;
}

/**
 * fastify's options for a logger writing each line to `sink`, in `format`. Fastify's own
 * "incoming request"/"request completed" pair is off: request-log.ts writes one line instead.
 */
export function loggerOptions(format: LogFormat, sink: (line: string) => void): Pick<FastifyServerOptions, 'logger' | 'logController'> {
  const stream = {
    write(line: string): void {
      const json = line.trimEnd();
      sink(format === 'json' ? json : textLine(JSON.parse(json) as Record<string, unknown>));
    },
  };
  return {
    logger: {
      level: 'info',
      stream,
      // ISO 8601 rather than pino's epoch milliseconds: readable in both formats.
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
    },
    logController: new LogController({ disableRequestLogging: true }),
  };
}
