// The --shared-kv URL, checked where it is given (the CLI) and where it is used (the engine),
// without loading the Redis client.

/** The URL without its credentials (for logs and stats); throws on one that is not Redis's. */
export function redisUrlForDisplay(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RangeError(`--shared-kv must be a URL like redis://127.0.0.1:6379/0, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RangeError(`--shared-kv must be a redis:// or rediss:// URL, got '${url}'`);
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d+$/.test(u.pathname)) throw new RangeError(`--shared-kv: the path names a database number (redis://HOST:PORT/DB), got '${u.pathname}'`);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}
