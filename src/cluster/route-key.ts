// The routing key of a request, as HAProxy computes it in front of several replicas
// (deploy/haproxy/pensieve-route.lua, which this module mirrors rule for rule; the tests send
// requests through HAProxy and compare its answers with these). Every turn of a conversation
// must get the same key, so that `balance hash` sends it to the replica holding its KV cache:
//   1. a path naming a conversation or a response (/v1/conversations/conv_<key>…,
//      /v1/responses/resp_<key>…): the key its id carries (store/ids.ts);
//   2. POST /v1/responses: the key of `previous_response_id`, else of `conversation` (a string
//      or {id}) — the server gives the new response the same key;
//   3. POST /v1/chat/completions (clients that resend the whole history): a hash of the leading
//      messages — every message up to and including the first user message (the system and
//      developer prompt and the opening question), which every resend repeats unchanged;
//   4. POST /v1/completions: a hash of the prompt's first line (at most 256 bytes), the part of a
//      resent transcript that stays the same;
//   5. anything else (a new chain, a conversation being created, a body HAProxy cut before the
//      part that names the key): a random key, which the replica then writes into the ids it mints.

import { createHash } from 'node:crypto';
import { newRouteKey, routeKeyOf } from '../store/index.js';
import { JsonEnd, JsonMalformed, JsonScanner, type JsonValue } from './json-scan.js';

export type RouteSource = 'path' | 'previous_response_id' | 'conversation' | 'messages' | 'prompt' | 'random';

export interface RouteRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  /** The body, or as much of it as the balancer has buffered. */
  body: Buffer;
}

/** How many bytes of a completions prompt's first line go into its key. */
export const PROMPT_KEY_BYTES = 256;

/** The first 16 hex chars of SHA-256: the key of a hashed request. */
export function hashKey(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export function routeKeyFor(request: RouteRequest, random: () => string = newRouteKey): { key: string; source: RouteSource } {
  const named = /^\/v1\/(?:conversations|responses)\/([^/]+)/.exec(request.path);
  const pathKey = named === null ? undefined : routeKeyOf(named[1]!);
  if (pathKey !== undefined) return { key: pathKey, source: 'path' };
  if (request.method === 'POST') {
    const found = bodyKey(request.path, request.body);
    if (found !== undefined) return found;
  }
  return { key: random(), source: 'random' };
}

function bodyKey(path: string, body: Buffer): { key: string; source: RouteSource } | undefined {
  try {
    if (path === '/v1/responses') return chainKey(body);
    if (path === '/v1/chat/completions') return hashed(messagesPrefix(body), 'messages');
    if (path === '/v1/completions') return hashed(promptLine(body), 'prompt');
  } catch (err) {
    if (!(err instanceof JsonEnd || err instanceof JsonMalformed)) throw err;
  }
  return undefined;
}

function hashed(bytes: Buffer | undefined, source: RouteSource): { key: string; source: RouteSource } | undefined {
  return bytes === undefined ? undefined : { key: hashKey(bytes), source };
}

/** previous_response_id's key, else conversation's: what was found before the body ended. */
function chainKey(body: Buffer): { key: string; source: RouteSource } | undefined {
  const s = new JsonScanner(body);
  let previous: string | undefined;
  let conversation: string | undefined;
  try {
    const members = s.object();
    for (let key = members.next(); key !== null; key = members.next()) {
      if (key === 'previous_response_id' && previous === undefined) {
        previous = idKey(s.value());
      } else if (key === 'conversation' && conversation === undefined) {
        const v = s.value();
        conversation = idKey(v.kind === 'object' ? v.entries.get('id') : v);
      } else {
        s.skipValue();
      }
    }
  } catch (err) {
    if (!(err instanceof JsonEnd || err instanceof JsonMalformed)) throw err;
  }
  if (previous !== undefined) return { key: previous, source: 'previous_response_id' };
  if (conversation !== undefined) return { key: conversation, source: 'conversation' };
  return undefined;
}

function idKey(v: JsonValue | undefined): string | undefined {
  return v?.kind === 'string' ? routeKeyOf(v.bytes.toString('latin1')) : undefined;
}

/**
 * The leading messages, as bytes: role NUL text NUL for each message up to and including the
 * first user message (text: a string content, or the `text` of each part of an array content).
 * No user message: the messages there are. Undefined when the body ends before that point.
 */
function messagesPrefix(body: Buffer): Buffer | undefined {
  const s = new JsonScanner(body);
  const members = s.object();
  for (let key = members.next(); key !== null; key = members.next()) {
    if (key !== 'messages') {
      s.skipValue();
      continue;
    }
    if (s.peek() !== 0x5b) return undefined;
    const parts: Buffer[] = [];
    const elements = s.array();
    while (elements.next()) {
      const m = s.value();
      const role = m.kind === 'object' ? m.entries.get('role') : undefined;
      const roleBytes = role?.kind === 'string' ? role.bytes : Buffer.alloc(0);
      parts.push(roleBytes, Buffer.of(0), m.kind === 'object' ? contentText(m.entries.get('content')) : Buffer.alloc(0), Buffer.of(0));
      if (roleBytes.toString('latin1') === 'user') break;
    }
    return parts.length === 0 ? undefined : Buffer.concat(parts);
  }
  return undefined;
}

function contentText(content: JsonValue | undefined): Buffer {
  if (content?.kind === 'string') return content.bytes;
  if (content?.kind !== 'array') return Buffer.alloc(0);
  const texts: Buffer[] = [];
  for (const part of content.items) {
    const text = part.kind === 'object' ? part.entries.get('text') : undefined;
    if (text?.kind === 'string') texts.push(text.bytes);
  }
  return Buffer.concat(texts);
}

/** The first line of `prompt` (a string, or the first string of an array), at most PROMPT_KEY_BYTES. */
function promptLine(body: Buffer): Buffer | undefined {
  const s = new JsonScanner(body);
  const members = s.object();
  for (let key = members.next(); key !== null; key = members.next()) {
    if (key !== 'prompt') {
      s.skipValue();
      continue;
    }
    let c = s.peek();
    if (c === 0x5b) {
      if (!s.array().next()) return undefined;
      c = s.peek();
    }
    if (c !== 0x22) return undefined;
    return s.string({ maxBytes: PROMPT_KEY_BYTES, stopAtNewline: true }).bytes;
  }
  return undefined;
}
