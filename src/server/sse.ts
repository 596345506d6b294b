// Server-sent events for streaming routes. Opening a stream takes the response over from fastify
// (hijack): from then on the route writes events itself, and errors can only be reported inside
// the stream. Writes after the client went away are dropped; the generation watching the same
// connection stops itself (see Generation.start).

import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

export class SseStream {
  private constructor(private readonly res: ServerResponse) {}

  static open(reply: FastifyReply): SseStream {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // nginx and friends must pass tokens through as they come.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    return new SseStream(res);
  }

  /** Whether the client is gone (or the stream ended): nothing more will reach it. */
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /** One event: `data: <json>`, preceded by `event: <name>` when named (the Responses API names its events). */
  send(data: unknown, event?: string): void {
    if (this.closed) return;
    const head = event === undefined ? '' : `event: ${event}\n`;
    this.res.write(`${head}data: ${JSON.stringify(data)}\n\n`);
  }

  /** The chat and text completions streams end with this sentinel. */
  done(): void {
    if (this.closed) return;
    this.res.write('data: [DONE]\n\n');
  }

  end(): void {
    if (!this.closed) this.res.end();
  }
}
