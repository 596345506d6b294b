// The store's public face: what the server and engine import. Tables, SQL and row decoding stay
// behind it.

export { Store } from './store.js';
export { SqliteStore } from './sqlite-store.js';
export { StoreConflictError, type ConversationStore, type NewConversationOptions } from './conversation-store.js';
export { openStore, storeLocationFromFlag } from './open.js';
export { StoreInputError } from './validate.js';
export { isRouteKey, newId, newRouteKey, routeKeyOf, type IdPrefix } from './ids.js';
export { SCHEMA_VERSION } from './schema.js';
export type * from './types.js';
