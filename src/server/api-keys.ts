// The API keys a server accepts and the tenant each stands for. `--api-key KEY` is one key and
// no tenants: everything it creates is ownerless, as on an open server. `--api-keys FILE` gives
// several keys, each the key of a tenant (its owner in the store), so what one tenant creates
// the others cannot see.
//
// The file: one key per line, optionally followed by whitespace and a name; blank lines and
// lines starting with # are skipped. A named key's tenant is its name, so two keys with the same
// name share their data (rotate a key by adding the new one under the old name, then removing
// the old one). An unnamed key is a tenant of its own, owned by the key's SHA-256.
//
//   # tenant        (the key comes first: it is what clients send)
//   sk-3f9a0c...    alice
//   sk-77b1e2...    alice
//   sk-c04d9b...    bob
//   sk-5e6f70...

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Owner } from '../store/index.js';

export interface ApiKey {
  key: string;
  name: string | null;
}

// A key is a bearer token: visible ASCII, no whitespace, as an Authorization header carries it.
const KEY = /^[\x21-\x7e]+$/;
// Names become owners in the store; no ':' keeps them apart from the `sha256:` owners of unnamed keys.
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/** Parses the text of an --api-keys file; `source` names it in errors (with the line number). */
export function parseApiKeys(text: string, source: string): ApiKey[] {
  const keys: ApiKey[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    const [key, ...rest] = line.split(/\s+/);
    if (!KEY.test(key!)) throw new Error(`${where}: a key must be visible ASCII characters`);
    if (rest.length > 1) throw new Error(`${where}: expected 'KEY [NAME]', got ${rest.length + 1} words`);
    const name = rest[0] ?? null;
    if (name !== null && !NAME.test(name)) throw new Error(`${where}: a name must be 1-64 of A-Z a-z 0-9 . _ @ -; got '${name}'`);
    if (seen.has(key!)) throw new Error(`${where}: this key is already listed above`);
    seen.add(key!);
    keys.push({ key: key!, name });
  });
  // An empty file must not leave the server open: that would be the opposite of what was asked.
  if (keys.length === 0) throw new Error(`${source}: no API keys in the file`);
  return keys;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

interface Entry {
  digest: Buffer;
  owner: Owner;
}

/** The accepted keys, matched in constant time; each gives the owner of what its caller creates. */
export class KeyRing {
  private constructor(private readonly entries: readonly Entry[]) {}

  /** The ring for a server's options: none (an open server), one key, or one per tenant. */
  static from(apiKey: string | undefined, apiKeys: readonly ApiKey[] | undefined): KeyRing | null {
    const many = apiKeys ?? [];
    const one = apiKey ?? '';
    if (many.length > 0 && one !== '') throw new Error('give either one API key or a list of them, not both');
    if (many.length > 0) return KeyRing.tenants(many);
    return one === '' ? null : KeyRing.single(one);
  }

  /** One key, no tenants (`--api-key`): its caller owns what an open server's callers own. */
  static single(key: string): KeyRing {
    return new KeyRing([{ digest: digest(key), owner: null }]);
  }

  /** Several keys (`--api-keys`), each a tenant's: its name, or the key's hash when unnamed. */
  static tenants(keys: readonly ApiKey[]): KeyRing {
    if (keys.length === 0) throw new RangeError('KeyRing.tenants needs at least one key');
    return new KeyRing(keys.map((k) => ({ digest: digest(k.key), owner: k.name ?? `sha256:${digest(k.key).toString('hex')}` })));
  }

  /**
   * The owner for a presented key, or undefined when no key matches. Both sides are hashed first
   * so timingSafeEqual compares equal lengths (a length check would leak the key's length), and
   * every entry is compared, so the time does not say which key, or how many, came close.
   */
  match(presented: string): { owner: Owner } | undefined {
    const given = digest(presented);
    let found: Entry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(given, entry.digest) && found === undefined) found = entry;
    }
    return found === undefined ? undefined : { owner: found.owner };
  }
}
