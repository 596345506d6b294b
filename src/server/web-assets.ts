// The web page's files (src/server/web/): plain HTML, ES modules and CSS shipped with the package,
// read once at startup, served as they are — no framework, no build step, no network at run time.
// The page itself holds no secrets (the API key is typed into it), so its files are public;
// every figure it shows comes from /v1, which --api-key guards as always.

import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';

const WEB_DIR = new URL('./web/', import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface WebAsset {
  type: string;
  body: Buffer;
}

/** Every servable file by name; a name not in it is a 404, so no path ever reaches the file system. */
export function loadWebAssets(): ReadonlyMap<string, WebAsset> {
  const assets = new Map<string, WebAsset>();
  for (const name of readdirSync(WEB_DIR)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type !== undefined) assets.set(name, { type, body: readFileSync(new URL(name, WEB_DIR)) });
  }
  return assets;
}

/** A browser navigating to the page (not curl or a client reading the JSON index at /). */
export function wantsPage(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}
