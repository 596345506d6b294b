// The connection to the Redis server of the shared KV tier (ioredis), set up for a cache
// that must never stall the engine: a command fails at once while the connection is down
// (no offline queue) and after `commandTimeoutMs` when the server does not answer, and the
// client reconnects in the background, backing off up to a second. A lost server costs
// misses and dropped writes, never a stuck request. Outages are reported once each, not at
// every reconnection attempt.
import { Redis } from 'ioredis';
import { redisUrlForDisplay } from './redis-url.js';

export interface RedisClientOptions {
  /** redis://[user:password@]HOST:PORT[/DB] (or rediss:// for TLS). */
  url: string;
  commandTimeoutMs: number;
  warn: (message: string) => void;
}

export class RedisClient {
  readonly display: string;
  private readonly client: Redis;
  /** Whether the last outage was reported and not yet its end. */
  private down = false;
  private closing = false;
  /** The connection attempt lookups are waiting on, if any. */
  private attempt: Promise<boolean> | null = null;

  constructor(private readonly options: RedisClientOptions) {
    this.display = redisUrlForDisplay(options.url);
    this.client = new Redis(options.url, {
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1000, options.commandTimeoutMs),
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
    });
    this.client.on('ready', () => {
      if (this.down) options.warn(`shared KV tier: ${this.display} is back`);
      this.down = false;
    });
    this.client.on('error', (err: Error) => {
      if (this.down || this.closing) return;
      this.down = true;
      options.warn(`shared KV tier: ${this.display} unreachable (${err.message}); requests recompute what it would have served`);
    });
  }

  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * Resolves true once connected; false if `ms` pass first, or the connection attempt fails,
   * or the server is known to be down (between reconnection attempts): a request then
   * recomputes at once instead of waiting out every outage. What waits is a lookup made while
   * the first connection is being set up (a request arriving as the engine starts).
   */
  whenReady(ms: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    const status = this.client.status;
    if (this.closing || this.down || ms <= 0 || status === 'reconnecting' || status === 'close' || status === 'end') return Promise.resolve(false);
    // One set of listeners per connection attempt, however many lookups wait on it.
    const attempt = (this.attempt ??= new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        this.client.off('ready', onReady);
        this.client.off('error', onFail);
        this.client.off('close', onFail);
        this.attempt = null;
        resolve(ok);
      };
      const onReady = () => done(true);
      const onFail = () => done(false);
      this.client.on('ready', onReady);
      this.client.on('error', onFail);
      this.client.on('close', onFail);
    }));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    return Promise.race([attempt, late]).finally(() => clearTimeout(timer));
  }

  /** The values of `keys` in one round trip (null where absent). Rejects when the server fails. */
  async getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const pipeline = this.client.pipeline();
    for (const k of keys) pipeline.getBuffer(k);
    const replies = (await pipeline.exec()) ?? [];
    if (replies.length !== keys.length) throw new Error(`${replies.length} replies to ${keys.length} reads`);
    return replies.map(([err, value]) => {
      if (err !== null) throw err;
      return value === null ? null : (value as Buffer);
    });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.client.exists(key)) > 0;
  }

  async set(key: string, value: Buffer): Promise<void> {
    await this.client.set(key, value);
  }

  /** Deletes one key (a value that failed its checks, so a good copy can take its place). */
  async del(key: string): Promise<void> {
    await this.client.del(key);
  }

  /** Closes the connection: politely when the server answers, at once otherwise. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.connected) {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through: cut it
      }
    }
    this.client.disconnect();
  }
}
