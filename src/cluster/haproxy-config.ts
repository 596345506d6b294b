// HAProxy's configuration for a set of replicas: deploy/haproxy/haproxy.cfg.template with its
// placeholders filled. The template is the one file a hand deployment copies too, so what
// `pensieve cluster` and the tests run is exactly what the README tells operators to run.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TEMPLATE_FILE = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg.template', import.meta.url));
export const LUA_FILE = fileURLToPath(new URL('../../deploy/haproxy/pensieve-route.lua', import.meta.url));

export interface HaproxyServer {
  /** The server's name in HAProxy (stats, logs, `disable server replicas/<name>`). */
  name: string;
  /** host:port of the replica. */
  address: string;
}

export interface HaproxyConfigInput {
  /** Where clients connect: host:port. */
  bind: string;
  /** In ring order: a server's id on the ring is its position, so keep the order stable. */
  servers: readonly HaproxyServer[];
  /** Path of the admin socket (`show stat`, `disable server`). */
  statsSocket: string;
  /** The routing Lua; default: the one beside the template. */
  luaFile?: string;
  /**
   * 'affinity' (the template's consistent hashing by routing key, the default) or 'roundrobin':
   * the baseline the affinity benchmark compares with, every request to the next replica.
   */
  balance?: 'affinity' | 'roundrobin';
}

// The template's balancing lines, which the round-robin baseline replaces.
const AFFINITY_LINES = /^ *balance hash .*\n *hash-type .*\n *hash-balance-factor .*\n/m;

const SERVER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
// A path goes into the config unquoted: nothing that would end the word or start a comment.
const CONFIG_PATH = /^[^\s#"'\\]+$/;

export function renderHaproxyConfig(input: HaproxyConfigInput, template = readFileSync(TEMPLATE_FILE, 'utf8')): string {
  if (input.servers.length === 0) throw new RangeError('HAProxy needs at least one server');
  if (!ADDRESS.test(input.bind)) throw new RangeError(`bind address must be host:port, got ${JSON.stringify(input.bind)}`);
  const names = new Set<string>();
  for (const s of input.servers) {
    if (!SERVER_NAME.test(s.name)) throw new RangeError(`server name must be 1-64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(s.name)}`);
    if (names.has(s.name)) throw new RangeError(`server name ${s.name} given twice`);
    names.add(s.name);
    if (!ADDRESS.test(s.address)) throw new RangeError(`server ${s.name}: address must be host:port, got ${JSON.stringify(s.address)}`);
  }
  const luaFile = input.luaFile ?? LUA_FILE;
  for (const [what, path] of [['Lua file', luaFile], ['stats socket', input.statsSocket]] as const) {
    if (!CONFIG_PATH.test(path)) throw new RangeError(`${what} path must have no spaces, quotes or '#': ${JSON.stringify(path)}`);
  }
  const values: Record<string, string> = {
    LUA_FILE: luaFile,
    STATS_SOCKET: input.statsSocket,
    BIND: input.bind,
    SERVERS: input.servers.map((s) => `    server ${s.name} ${s.address}`).join('\n'),
  };
  const used = new Set<string>();
  const config = template.replace(/\{\{([A-Z_]+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new RangeError(`HAProxy template: unknown placeholder {{${name}}}`);
    used.add(name);
    return value;
  });
  const missing = Object.keys(values).filter((k) => !used.has(k));
  if (missing.length > 0) throw new RangeError(`HAProxy template lacks ${missing.map((k) => `{{${k}}}`).join(', ')}`);
  if ((input.balance ?? 'affinity') === 'affinity') return config;
  if (!AFFINITY_LINES.test(config)) throw new RangeError('HAProxy template: no balance hash / hash-type / hash-balance-factor lines to replace');
  return config.replace(AFFINITY_LINES, '    balance roundrobin\n');
}
