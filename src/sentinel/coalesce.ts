/**
 * At most one run per key in flight: a request that comes while one runs asks for exactly one
 * more run after it, however many come. A burst of sentinel messages about one cluster thus costs
 * two queries to a sentinel, not one per message, and a hanging sentinel holds only its own key.
 */
export class Coalescer {
  /** key → whether another run was asked for while this one ran. */
  private readonly again = new Map<string, boolean>();

  /** `once` returns false to stop (nothing left to ask); `more` is checked before each extra run. */
  async run(key: string, once: () => Promise<boolean | void>, more: () => boolean = () => true): Promise<void> {
    if (this.again.has(key)) {
      this.again.set(key, true);
      return;
    }
    try {
      do {
        this.again.set(key, false);
        if ((await once()) === false) return;
      } while (this.again.get(key) === true && more());
    } finally {
      this.again.delete(key);
    }
  }
}
