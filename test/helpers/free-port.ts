// A loopback port for a server that cannot be told `--port 0` and report what it got
// (HAProxy's bind, redis-server, llama-server): the system's pick, free until someone takes it.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
