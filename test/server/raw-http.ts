// HTTP/1.x on a raw socket, for requests no HTTP client would send as written: percent-encoded
// or absolute-form targets, dot segments, pipelined requests, HTTP/1.0, malformed request lines.
// Reads every response the server sends until it closes the connection; a reset rejects.

import * as net from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** A request as bytes: `head` is the request line and headers (CRLF added), `body` follows them. */
export function rawRequest(method: string, target: string, headers: Record<string, string> = {}, body = '', version = 'HTTP/1.1'): string {
  const all: Record<string, string> = { host: 'localhost', ...headers };
  if (body !== '' && all['content-length'] === undefined) all['content-length'] = String(Buffer.byteLength(body));
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${target} ${version}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Sends `data` on a new connection to `origin` and parses the responses the server writes, until
 * it closes the connection (end the last request with "connection: close", or use HTTP/1.0) or
 * `expected` responses have arrived. Rejects on a reset or after `timeoutMs`.
 */
export function exchange(origin: string, data: string | Buffer, options: { expected?: number; timeoutMs?: number } = {}): Promise<RawResponse[]> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(responses);
    };
    const socket = net.connect(Number(port), hostname, () => socket.write(data));
    const timer = setTimeout(() => finish(new Error(`no close after ${responses.length} responses: ${buffer.toString('latin1').slice(0, 200)}`)), options.timeoutMs ?? 10_000);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseOne(buffer, false);
        if (parsed === null) break;
        responses.push(parsed.response);
        buffer = buffer.subarray(parsed.length);
      }
      if (options.expected !== undefined && responses.length >= options.expected) finish();
    });
    socket.on('end', () => {
      // A response without a length runs to the close.
      const last = buffer.length > 0 ? parseOne(buffer, true) : null;
      if (last !== null) responses.push(last.response);
      else if (buffer.length > 0) return finish(new Error(`truncated response: ${buffer.toString('latin1').slice(0, 200)}`));
      finish();
    });
    socket.on('error', (err) => finish(err));
  });
}

function parseOne(buffer: Buffer, atEnd: boolean): { response: RawResponse; length: number } | null {
  const headEnd = buffer.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...headerLines] = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const start = headEnd + 4;
  if (headers['transfer-encoding'] === 'chunked') {
    let at = start;
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
      if (buffer.length < lineEnd + 2 + size + 2) return null;
      if (size === 0) return { response: { status, headers, body: Buffer.concat(parts).toString('utf8') }, length: lineEnd + 4 };
      parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const declared = headers['content-length'];
  if (declared === undefined) {
    // 1xx/204/304 have no body; anything else without a length ends at the close.
    if (status < 200 || status === 204 || status === 304) return { response: { status, headers, body: '' }, length: start };
    return atEnd ? { response: { status, headers, body: buffer.subarray(start).toString('utf8') }, length: buffer.length } : null;
  }
  const end = start + Number(declared);
  if (buffer.length < end) return null;
  return { response: { status, headers, body: buffer.subarray(start, end).toString('utf8') }, length: end };
}
