// The one place ids are made. OpenAI ids are a type prefix and an opaque random tail; 24 random
// bytes (48 hex chars) make collisions across every store that will ever exist negligible, and
// random (not sequential) ids leak nothing about how many conversations a server holds.

import { randomBytes } from 'node:crypto';
import type { ItemType } from './types.js';

export type IdPrefix = 'conv' | 'resp' | 'msg' | 'fc' | 'fco' | 'rs';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
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
