// The chunk slots of one lower tier (host RAM or disk files): a fixed number of
// chunk-sized places, each empty or holding one chunk of one chain. Like BlockPool,
// only bookkeeping: the memory or file behind a slot lives in src/engine/tiers/. The
// owner of each slot is kept so that an I/O failure reported by slot (a corrupt file, a
// failed write) finds the chunk it hurts, and slots are indexed by the chunk's key (the
// salted hash of every token up to its end) so that any request whose prompt has the
// same tokens finds them, whichever chain or API wrote them.

export type LowerTier = 'host' | 'disk';

export interface SlotOwner {
  /** The chain (a conversation's record) whose chunk this is. */
  readonly conversationId: string;
  readonly chunk: number;
  /** The chunk's content address: block-hash.ts prefixHash at the chunk's end. */
  readonly key: string;
  /** A chunk found on disk at start-up, not attached to a chain. */
  readonly persisted?: boolean;
}

export class TierSlots {
  private readonly owners: (SlotOwner | null)[];
  /** Free slots, lowest id on top, so a small working set stays in low slot ids. */
  private readonly free: number[];
  private readonly byKey = new Map<string, Set<number>>();

  constructor(readonly tier: LowerTier, readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`${tier} capacity must be a whole number of chunks, got ${capacity}`);
    this.owners = new Array<SlotOwner | null>(capacity).fill(null);
    this.free = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
  }

  get numUsed(): number {
    return this.capacity - this.free.length;
  }

  get numFree(): number {
    return this.free.length;
  }

  ownerOf(slot: number): SlotOwner | null {
    this.check(slot);
    return this.owners[slot]!;
  }

  /** Used slots holding the chunk with this key (several chains may each hold a copy). */
  slotsWithKey(key: string): readonly number[] {
    const s = this.byKey.get(key);
    return s === undefined ? [] : [...s];
  }

  /** A free slot for `owner`, or null when the tier is full. */
  allocate(owner: SlotOwner): number | null {
    const slot = this.free.pop();
    if (slot === undefined) return null;
    this.setOwner(slot, owner);
    return slot;
  }

  /** Claims a specific slot (a chunk file found at start-up); false if it is taken or out of range. */
  adopt(slot: number, owner: SlotOwner): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity || this.owners[slot] !== null) return false;
    this.free.splice(this.free.indexOf(slot), 1);
    this.setOwner(slot, owner);
    return true;
  }

  /** Re-labels a used slot (a persisted chunk attached to a chain); its key stays. */
  reassign(slot: number, owner: Omit<SlotOwner, 'key'>): void {
    this.check(slot);
    const old = this.owners[slot];
    if (old === null || old === undefined) throw new Error(`${this.tier} slot ${slot} is free`);
    this.owners[slot] = { ...owner, key: old.key };
  }

  release(slot: number): void {
    this.check(slot);
    const old = this.owners[slot];
    if (old === null || old === undefined) throw new Error(`${this.tier} slot ${slot} released while free`);
    const set = this.byKey.get(old.key)!;
    set.delete(slot);
    if (set.size === 0) this.byKey.delete(old.key);
    this.owners[slot] = null;
    this.free.push(slot);
  }

  /** Used slots and their owners (for invariant checks and stats). */
  *used(): Generator<[number, SlotOwner]> {
    for (let s = 0; s < this.capacity; s++) {
      const o = this.owners[s];
      if (o !== null && o !== undefined) yield [s, o];
    }
  }

  private setOwner(slot: number, owner: SlotOwner): void {
    this.owners[slot] = owner;
    let set = this.byKey.get(owner.key);
    if (set === undefined) this.byKey.set(owner.key, (set = new Set()));
    set.add(slot);
  }

  private check(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity) throw new RangeError(`no ${this.tier} slot ${slot} among ${this.capacity}`);
  }
}
