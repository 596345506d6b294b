// Which routing key a new conversation or response id carries (see store/ids.ts): a response
// that continues a chain or belongs to a conversation takes its parent's key, so every id of a
// chain routes alike; a new chain takes the key the load balancer chose for this request (the
// X-Pensieve-Route-Key header HAProxy sets, deploy/haproxy), so the replica that served its
// first turn is the one its key hashes to; with no balancer in front, a random one. A malformed
// header is ignored, not an error: the key only steers routing, and the id stays valid without it.

import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { newRouteKey, routeKeyOf } from '../store/index.js';

export const ROUTE_KEY_HEADER = 'x-pensieve-route-key';

const RouteKeyHeader = z.string().regex(/^[0-9a-f]{16}$/);

/** The balancer's key for this request, when it sent a well-formed one. */
export function headerRouteKey(request: FastifyRequest): string | undefined {
  const parsed = RouteKeyHeader.safeParse(request.headers[ROUTE_KEY_HEADER]);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The key for ids minted by this request: the first parent id (previous response, conversation)
 * that carries one, else the header's, else a random one.
 */
export function chainRouteKey(request: FastifyRequest, ...parents: (string | null | undefined)[]): string {
  for (const id of parents) {
    const key = id === null || id === undefined ? undefined : routeKeyOf(id);
    if (key !== undefined) return key;
  }
  return headerRouteKey(request) ?? newRouteKey();
}
