// The chunk slots of one lower tier (host RAM or disk files): a fixed number of
// chunk-sized places, each empty or holding one chunk of one conversation. Like
// BlockPool, only bookkeeping: the memory or file behind a slot lives in
// src/engine/tiers/. The owner of each slot is kept so that an I/O failure reported
// by slot (a corrupt file, a failed write) finds the chunk it hurts.

export type LowerTier = 'host' | 'disk';

export interface SlotOwner {
  readonly conversationId: string;
  readonly chunk: number;
  /** A chunk found on disk at start-up, not yet matched to a conversation's tokens. */
  readonly persisted?: boolean;
}

export class TierSlots {
  private readonly owners: (SlotOwner | null)[];
  /** Free slots, lowest id on top, so a small working set stays in low slot ids. */
  private readonly free: number[];

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

  /** A free slot for `owner`, or null when the tier is full. */
  allocate(owner: SlotOwner): number | null {
    const slot = this.free.pop();
    if (slot === undefined) return null;
    this.owners[slot] = owner;
    return slot;
  }

  /** Claims a specific slot (a chunk file found at start-up); false if it is taken or out of range. */
  adopt(slot: number, owner: SlotOwner): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity || this.owners[slot] !== null) return false;
    this.owners[slot] = owner;
    this.free.splice(this.free.indexOf(slot), 1);
    return true;
  }

  /** Re-labels a used slot (a persisted chunk attached to its conversation). */
  reassign(slot: number, owner: SlotOwner): void {
    this.check(slot);
    if (this.owners[slot] === null) throw new Error(`${this.tier} slot ${slot} is free`);
    this.owners[slot] = owner;
  }

  release(slot: number): void {
    this.check(slot);
    if (this.owners[slot] === null) throw new Error(`${this.tier} slot ${slot} released while free`);
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

  private check(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity) throw new RangeError(`no ${this.tier} slot ${slot} among ${this.capacity}`);
  }
}
