// A real server for the HTTP tests: the engine worker with the real stories260K model, a store
// in a fresh temp dir, fastify on a loopback port, and the official openai client pointed at it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import type { CacheMode } from '../../src/cache/kv-cache-manager.js';
import { EngineClient } from '../../src/engine/client.js';
import type { ApiKey } from '../../src/server/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { Store } from '../../src/store/index.js';
import { MODELS } from '../helpers/paths.js';

export const STORIES = path.join(MODELS, 'stories260K', 'stories260K.gguf');
export const MODEL_ID = 'stories260K';

export interface TestServer {
  app: FastifyInstance;
  engine: EngineClient;
  store: Store;
  dataDir: string;
  /** http://127.0.0.1:<port> */
  origin: string;
  client: OpenAI;
  logLines: string[];
  /** Closes server, engine and store; removes the data dir unless it was given. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  cacheMode?: CacheMode;
  apiKey?: string;
  /** Several keys, one tenant each (the client then uses the first). */
  apiKeys?: ApiKey[];
  metricsPublic?: boolean;
  maxQueuedRequests?: number;
  /** Reuse a data dir (restart tests); it is then left in place. */
  dataDir?: string;
  maxNumSeqs?: number;
  /** --served-model-name. */
  servedModelNames?: string[];
  /** --chat-template: a template (file) in place of the model's own. */
  chatTemplate?: string;
}

export function engineOptions(cacheMode: CacheMode, maxNumSeqs = 16, chatTemplate?: string) {
  return {
    model: STORIES, weightFormat: 'auto' as const, kvCacheMemory: 64 << 20, maxNumSeqs, maxNumBatchedTokens: 512, cacheMode,
    ...(chatTemplate === undefined ? {} : { chatTemplate }),
  };
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'pensieve-server-'));
  const engine = await EngineClient.start(engineOptions(options.cacheMode ?? 'pensieve', options.maxNumSeqs, options.chatTemplate));
  const store = Store.open(dataDir);
  const logLines: string[] = [];
  const app = buildServer({
    engine,
    store,
    apiKey: options.apiKey,
    apiKeys: options.apiKeys,
    metricsPublic: options.metricsPublic,
    maxQueuedRequests: options.maxQueuedRequests ?? 64,
    logRequests: true,
    log: (line) => logLines.push(line),
    servedModelNames: options.servedModelNames,
  });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: options.apiKey ?? options.apiKeys?.[0]?.key ?? 'unused', maxRetries: 0 });
  return {
    app,
    engine,
    store,
    dataDir,
    origin,
    client,
    logLines,
    async close() {
      await app.close();
      await engine.close();
      store.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw JSON request, for what the openai client would not send (malformed bodies, wrong types). */
export async function post(origin: string, urlPath: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${origin}${urlPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as ErrorShape & Record<string, unknown> };
}

export interface ErrorShape {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A response is an OpenAI-style error with this status (and type, param, code where given). */
export function assertError(
  res: { status: number; body: ErrorShape },
  status: number,
  expected: { type?: string; param?: string | null; code?: string | null },
): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const { error } = res.body;
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.equal(error.type, expected.type ?? 'invalid_request_error');
  if ('param' in expected) assert.equal(error.param, expected.param);
  if ('code' in expected) assert.equal(error.code, expected.code);
}
