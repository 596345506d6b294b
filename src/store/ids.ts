// The one place ids are made. OpenAI ids are a type prefix and an opaque tail; ours is 48 hex
// chars (24 bytes), random but for one thing: its first 16 hex chars are the chain's routing
// key. Every conversation id and every response id of a chain carries the same key, so a load
// balancer in front of several replicas (deploy/haproxy) reads it from the request and sends
// every turn of a conversation to the replica that holds its KV cache. The other 32 hex chars
// (16 random bytes) keep ids unique on their own; random (not sequential) ids leak nothing about
// how many conversations a server holds. Ids minted before routing keys existed (48 random hex
// chars) still parse: their first 16 chars simply are their key.

import { randomBytes } from 'node:crypto';
import type { ItemType } from './types.js';

export type IdPrefix = 'conv' | 'resp' | 'msg' | 'fc' | 'fco' | 'rs';

/** Hex chars of a routing key: 64 bits, so keys of distinct chains collide with odds ~n²/2⁶⁵. */
export const ROUTE_KEY_LENGTH = 16;
const ROUTE_KEY = /^[0-9a-f]{16}$/;
// The 48-hex tail of an id this server minted; the key is its first 16 chars.
const OWN_ID = /^[a-z]+_([0-9a-f]{16})[0-9a-f]{32}$/;

export function isRouteKey(value: string): boolean {
  return ROUTE_KEY.test(value);
}

/** A key for a new chain nobody named. */
export function newRouteKey(): string {
  return randomBytes(ROUTE_KEY_LENGTH / 2).toString('hex');
}

/** The routing key an id carries; undefined for an id of another shape (a client's own item id). */
export function routeKeyOf(id: string): string | undefined {
  return OWN_ID.exec(id)?.[1];
}

/** A new id; `routeKey` (16 lowercase hex) makes it a member of that chain, else its key is random. */
export function newId(prefix: IdPrefix, routeKey?: string): string {
  if (routeKey === undefined) return `${prefix}_${randomBytes(24).toString('hex')}`;
  if (!isRouteKey(routeKey)) throw new Error(`routing key must be ${ROUTE_KEY_LENGTH} lowercase hex chars, got ${JSON.stringify(routeKey)}`);
  return `${prefix}_${routeKey}${randomBytes(16).toString('hex')}`;
}

const ITEM_PREFIX: Record<ItemType, IdPrefix> = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  reasoning: 'rs',
};

export function newItemId(type: ItemType): string {
  return newId(ITEM_PREFIX[type]);
}
