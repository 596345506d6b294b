// The store's public face: what the server and engine import. Tables, SQL and row decoding stay
// behind it.

export { Store } from './store.js';
export { StoreInputError } from './validate.js';
export { newId, type IdPrefix } from './ids.js';
export { SCHEMA_VERSION } from './schema.js';
export type * from './types.js';
