// The server's open connections and the requests running on each, so a shutdown can close the
// idle ones at once and the busy ones as soon as their last response is out. Node's own
// closeIdleConnections() misses a connection that never sent a request (or sent half of one):
// such a socket held server.close() until the headers timeout, which is how one idle
// keep-alive client kept a SIGTERM waiting for 76 s.

import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a connection told to close may linger (flushing its last bytes) before it is destroyed. */
const LINGER_MS = 1000;

export class ConnectionTracker {
  /** Each open socket and the responses in progress on it. */
  private readonly sockets = new Map<Socket, Set<ServerResponse>>();
  private closing = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, new Set());
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.settle();
      });
    });
    server.on('request', (req, res: ServerResponse) => {
      const active = this.sockets.get(req.socket);
      if (active === undefined) return;
      active.add(res);
      res.once('close', () => {
        active.delete(res);
        if (this.closing && active.size === 0) endSocket(req.socket);
        this.settle();
      });
    });
  }

  /** Responses in progress on all connections. */
  get activeRequests(): number {
    let n = 0;
    for (const active of this.sockets.values()) n += active.size;
    return n;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /**
   * Closes every connection with no request in progress now, and each other one once its
   * responses are done; responses not yet started will say `Connection: close`.
   */
  closeIdle(): void {
    this.closing = true;
    for (const [socket, active] of this.sockets) {
      if (active.size === 0) socket.destroy();
      else for (const res of active) if (!res.headersSent) res.setHeader('connection', 'close');
    }
  }

  /** Resolves once no request is in progress (or at once when none is). */
  drained(): Promise<void> {
    if (this.activeRequests === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The last resort: every connection, busy or not, is destroyed. */
  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  private settle(): void {
    if (this.activeRequests > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** Half-closes after the last bytes are out; a client that does not close its side is cut off. */
function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
