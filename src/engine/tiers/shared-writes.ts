// Writes to the shared KV tier, off the step loop. Every full chunk the engine writes to its
// disk tier (a swap-out, an ahead-of-time copy, a copy before shutdown) is offered here by
// slot and identity, not by bytes, so the queue costs no memory; a few at a time are then
// read back from their file (in order with the slot's other operations, so the write has
// landed) and SET in the shared tier, most valuable first. The file's bytes are sent as they
// are: the chunk-file format, checksum included, which every reader checks.
//
// A key the shared tier already has is skipped (it is content-addressed: the same key always
// means the same tokens of the same model). When the queue is full, the write of lowest
// retention value, the new one included, is dropped and counted; a slot whose chunk changed
// before its turn came (released, reused) is skipped and counted as stale.
import type { ChunkMeta } from '../../cache/chunk-transfer.js';
import type { DiskTier } from './disk-tier.js';
import type { RedisClient } from './redis-client.js';

export interface SharedWrite {
  slot: number;
  meta: ChunkMeta;
  /** Retention value when offered: the lowest is dropped first, the highest sent first. */
  value: number;
}

export interface SharedWriteStats {
  /** Chunks SET in the shared tier, and their bytes (header included). */
  written: number;
  writtenBytes: number;
  /** Writes skipped because the shared tier had the key already. */
  skipped: number;
  /** Writes dropped because the queue was full (lowest retention value first). */
  dropped: number;
  /** Writes whose disk slot held another chunk, or none, by their turn. */
  stale: number;
  /** Writes that failed (the server down or too slow). */
  errors: number;
  /** Writes queued or in flight. */
  pending: number;
}

export class SharedWrites {
  private readonly queue: SharedWrite[] = [];
  /** Keys queued or in flight: a chunk offered twice is sent once. */
  private readonly keys = new Set<string>();
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private readonly counters = { written: 0, writtenBytes: 0, skipped: 0, dropped: 0, stale: 0, errors: 0 };

  constructor(
    private readonly redis: RedisClient,
    private readonly disk: DiskTier,
    /** The key of a chunk's token hash. */
    private readonly keyOf: (tokenHash: string) => string,
    /** Writes queued at most (in flight not counted). */
    private readonly capacity: number,
    /** Milliseconds a write waits for a connection being made before it fails. */
    private readonly connectWaitMs: number,
    private readonly concurrency = 4,
  ) {}

  /** Queues a chunk's write (unless the same chunk is queued already). */
  offer(w: SharedWrite): void {
    if (this.keys.has(w.meta.tokenHash)) return;
    if (this.queue.length >= this.capacity) {
      let low = 0;
      for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.value < this.queue[low]!.value) low = i;
      this.counters.dropped++;
      if (this.capacity === 0 || this.queue[low]!.value >= w.value) return;
      this.keys.delete(this.queue[low]!.meta.tokenHash);
      this.queue.splice(low, 1);
    }
    this.queue.push(w);
    this.keys.add(w.meta.tokenHash);
    this.pump();
  }

  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves true once nothing is queued or in flight, false at `deadline` (a performance.now() time) if writes remain. */
  async idle(deadline: number): Promise<boolean> {
    while (this.pending > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
    return true;
  }

  stats(): SharedWriteStats {
    return { ...this.counters, pending: this.pending };
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.value > this.queue[best]!.value) best = i;
      const [w] = this.queue.splice(best, 1);
      this.inFlight++;
      void this.send(w!).finally(() => {
        this.inFlight--;
        this.keys.delete(w!.meta.tokenHash);
        this.pump();
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    }
  }

  private async send(w: SharedWrite): Promise<void> {
    const key = this.keyOf(w.meta.tokenHash);
    try {
      if (!(await this.redis.whenReady(this.connectWaitMs))) {
        this.counters.errors++;
        return;
      }
      if (await this.redis.exists(key)) {
        this.counters.skipped++;
        return;
      }
      const bytes = await this.disk.readFile(w.slot, w.meta);
      if (typeof bytes === 'string') {
        this.counters.stale++;
        return;
      }
      await this.redis.set(key, bytes);
      this.counters.written++;
      this.counters.writtenBytes += bytes.byteLength;
    } catch {
      // The client reports the outage once; each failed write is counted.
      this.counters.errors++;
    }
  }
}
