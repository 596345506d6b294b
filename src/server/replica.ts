// Which replica answered: with --replica-name, every response (streamed ones, /health and errors
// included) carries X-Pensieve-Replica, so a client, a load balancer's logs or a test behind
// HAProxy can tell which of several replicas served a request without asking each one.

import type { FastifyInstance } from 'fastify';

export const REPLICA_HEADER = 'x-pensieve-replica';

/** A name that is safe as a header value and in logs. */
export const REPLICA_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function registerReplicaHeader(app: FastifyInstance, name: string | undefined): void {
  if (name === undefined) return;
  if (!REPLICA_NAME.test(name)) throw new RangeError(`replica name must match ${REPLICA_NAME}, got ${JSON.stringify(name)}`);
  app.addHook('onRequest', (_request, reply, done) => {
    // On the raw response, so hijacked (SSE) responses carry it too.
    reply.raw.setHeader(REPLICA_HEADER, name);
    done();
  });
}
