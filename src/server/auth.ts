// API key authentication. With keys set, every request must carry "Authorization: Bearer <key>"
// (what the OpenAI clients send) except on the public routes: /health always, /metrics only with
// --metrics-public. The decision is made on the route the router MATCHED, after it normalised
// the request target (percent-decoding, absolute-form targets), never on the raw URL: a check on
// the raw string lets through whatever spelling the router still maps to a route.
//
// Unknown paths need the key too: without one, every path but the public ones answers 401, so a
// caller without a key learns nothing about which routes exist (a 404 or 405 would tell).
// Errors fastify raises while routing go through the same check (see fastifyErrorOptions).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Owner } from '../store/index.js';
import type { KeyRing } from './api-keys.js';
import { ApiError } from './errors.js';
import { wantsPage } from './web-assets.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the caller is in the store: the tenant of its key; null on an open or single-key server. */
    owner: Owner;
  }
}

export interface AuthOptions {
  keys: KeyRing;
  /** Serve /metrics without a key (for a scraper that has none). */
  metricsPublic: boolean;
}

// Route patterns, as registered: the router has already mapped every spelling of a path to one.
// The web page's files are public (they hold no secrets; web-assets.ts), and so is GET / when a
// browser asks for the page: the JSON index at / still needs the key.
const ALWAYS_PUBLIC = ['/health', '/ui/:file'];

export class Authenticator {
  private readonly publicRoutes: ReadonlySet<string>;

  constructor(private readonly keys: KeyRing, metricsPublic: boolean) {
    this.publicRoutes = new Set(metricsPublic ? [...ALWAYS_PUBLIC, '/metrics'] : ALWAYS_PUBLIC);
  }

  /** Lets the request on (setting its owner) or throws its 401. */
  check(request: FastifyRequest): void {
    // routeOptions.url is the matched route's pattern; a 404 matched none and is never public.
    if (!request.is404 && request.routeOptions.url !== undefined && this.publicRoutes.has(request.routeOptions.url)) return;
    if (!request.is404 && request.routeOptions.url === '/' && wantsPage(request)) return;
    const header = request.headers.authorization;
    if (header === undefined) {
      throw new ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", 'invalid_request_error', null, 'missing_api_key');
    }
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const tenant = match === null ? undefined : this.keys.match(match[1]!.trim());
    if (tenant === undefined) {
      throw new ApiError(401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
    }
    request.owner = tenant.owner;
  }
}

/**
 * Gives every request an owner (null until a key says otherwise) and, with an authenticator,
 * checks each one on onRequest: after routing, before the body is read, so an unauthenticated
 * body is never parsed.
 */
export function registerAuth(app: FastifyInstance, auth: Authenticator | null): void {
  app.decorateRequest('owner', null);
  if (auth === null) return;
  app.addHook('onRequest', async (request) => auth.check(request));
}
