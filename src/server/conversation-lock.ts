// One turn at a time per conversation, in arrival order: a turn builds its prompt from what the
// previous turn committed, so two requests for one conversation must not overlap. Each key has a
// promise chain; different keys never wait for each other.

export class ConversationLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier call for `key` has settled; a null key runs at once. */
  async run<T>(key: string | null, fn: () => Promise<T>): Promise<T> {
    if (key === null) return fn();
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await previous;
      return await fn();
    } finally {
      release();
      // The last in line cleans up, so idle conversations hold no memory here.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a turn running or waiting (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
