// The device KV blocks as a pool of ids: who holds each block (a ref count), which
// content it is known to hold (a block hash), and which free block to reuse next.
// The memory itself lives elsewhere (src/model/kv-cache.ts); this is bookkeeping only,
// shaped after vLLM v1's block_pool.py and nano-vllm's BlockManager.
//
// A freed block keeps its hash and stays findable until its memory is handed out again:
// freeing is cheap, and a later request with the same prefix revives it (`touch`).
// The free queue is the eviction order: allocation pops from the front.
import type { BlockHash } from './block-hash.js';

export class BlockPool {
  readonly numBlocks: number;
  private readonly refCounts: Int32Array;
  private readonly hashes: (BlockHash | null)[];
  private readonly hashToBlock = new Map<BlockHash, number>();
  // Doubly linked free queue over block ids, with node `numBlocks` as its sentinel, so
  // that removing a revived block from the middle is O(1) (no array splices).
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private freeCount: number;
  private cachedFreeCount = 0;

  constructor(numBlocks: number) {
    if (!Number.isInteger(numBlocks) || numBlocks <= 0) throw new RangeError(`numBlocks must be a positive integer, got ${numBlocks}`);
    this.numBlocks = numBlocks;
    this.refCounts = new Int32Array(numBlocks);
    this.hashes = new Array<BlockHash | null>(numBlocks).fill(null);
    this.prev = new Int32Array(numBlocks + 1);
    this.next = new Int32Array(numBlocks + 1);
    const s = numBlocks;
    this.prev[s] = s;
    this.next[s] = s;
    for (let id = 0; id < numBlocks; id++) this.linkBefore(id, s);
    this.freeCount = numBlocks;
  }

  get numFree(): number {
    return this.freeCount;
  }

  get numUsed(): number {
    return this.numBlocks - this.freeCount;
  }

  /** Free blocks that still hold findable content (prefix-cache entries not yet evicted). */
  get numCachedFree(): number {
    return this.cachedFreeCount;
  }

  /** Fraction of blocks held, in [0, 1] (vLLM's kv_cache_usage). */
  usage(): number {
    return this.numUsed / this.numBlocks;
  }

  refCount(id: number): number {
    this.check(id);
    return this.refCounts[id]!;
  }

  isFree(id: number): boolean {
    return this.refCount(id) === 0;
  }

  hashOf(id: number): BlockHash | null {
    this.check(id);
    return this.hashes[id]!;
  }

  /** The block known to hold this content, held or free. */
  lookup(hash: BlockHash): number | undefined {
    return this.hashToBlock.get(hash);
  }

  /**
   * Takes `n` blocks from the front of the free queue, each with ref count 1. A cached
   * block popped here loses its hash: its memory is about to be overwritten. Returns
   * null, taking nothing, when fewer than `n` are free.
   */
  allocate(n: number): number[] | null {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`cannot allocate ${n} blocks`);
    if (n > this.freeCount) return null;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.next[this.numBlocks]!;
      this.unlinkFree(id);
      this.dropHash(id);
      this.refCounts[id] = 1;
      ids.push(id);
    }
    return ids;
  }

  /**
   * Drops one reference to each block. A block nobody holds joins the free queue: at the
   * back when it has a hash (least recently used is evicted first), at the front when it
   * has none, since reusing content nobody can find costs nothing. Pass a request's
   * blocks tail first, as vLLM does, so that its tail is evicted before its prefix.
   */
  free(ids: Iterable<number>): void {
    for (const id of ids) {
      this.check(id);
      const rc = this.refCounts[id]!;
      if (rc <= 0) throw new Error(`block ${id} freed while not held`);
      this.refCounts[id] = rc - 1;
      if (rc > 1) continue;
      if (this.hashes[id] !== null) {
        this.linkBefore(id, this.numBlocks);
        this.cachedFreeCount++;
      } else {
        this.linkBefore(id, this.next[this.numBlocks]!);
      }
      this.freeCount++;
    }
  }

  /** Adds a reference to each block; a free (cached) block is revived off the queue. */
  touch(ids: Iterable<number>): void {
    for (const id of ids) {
      this.check(id);
      if (this.refCounts[id] === 0) this.unlinkFree(id);
      this.refCounts[id]!++;
    }
  }

  /**
   * Makes a held, full block findable by its content. Returns false when another block
   * already holds that content (the first copy stays the one found; this one stays
   * anonymous). A block's content never changes while it has a hash: see `uncache`.
   */
  cacheBlock(id: number, hash: BlockHash): boolean {
    this.check(id);
    if (this.refCounts[id] === 0) throw new Error(`block ${id} cached while free`);
    const current = this.hashes[id];
    if (current === hash) return true;
    if (current !== null) throw new Error(`block ${id} already holds other content (${current})`);
    if (this.hashToBlock.has(hash)) return false;
    this.hashes[id] = hash;
    this.hashToBlock.set(hash, id);
    return true;
  }

  /** Forgets a held block's content before its owner writes over part of it. */
  uncache(id: number): void {
    this.check(id);
    if (this.refCounts[id] === 0) throw new Error(`block ${id} uncached while free`);
    this.dropHash(id);
  }

  /** Free block ids in eviction order (the next allocation takes the first). */
  *freeBlockIds(): Generator<number> {
    for (let id = this.next[this.numBlocks]!; id !== this.numBlocks; id = this.next[id]!) yield id;
  }

  private dropHash(id: number): void {
    const h = this.hashes[id];
    if (h === null || h === undefined) return;
    if (this.hashToBlock.get(h) === id) this.hashToBlock.delete(h);
    this.hashes[id] = null;
  }

  private unlinkFree(id: number): void {
    const p = this.prev[id]!;
    const n = this.next[id]!;
    this.next[p] = n;
    this.prev[n] = p;
    this.freeCount--;
    if (this.hashes[id] !== null) this.cachedFreeCount--;
  }

  private linkBefore(id: number, at: number): void {
    const p = this.prev[at]!;
    this.prev[id] = p;
    this.next[id] = at;
    this.next[p] = id;
    this.prev[at] = id;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks) throw new RangeError(`no block ${id} in a pool of ${this.numBlocks}`);
  }
}
