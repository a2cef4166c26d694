/**
 * Keeps one noisy source from flooding the log: per key, the first `burst` lines of a window are
 * written; the rest are counted and reported in one summary line when the window ends. A broken or
 * hostile sentinel can publish thousands of messages a second; operators need to see that it
 * happens, not every copy of it.
 */
export interface ThrottleOptions {
  windowMs: number;
  burst: number;
  /** Called once per window that dropped lines, with the key and how many were dropped. */
  onSuppressed: (key: string, suppressed: number) => void;
}

interface KeyState {
  written: number;
  suppressed: number;
  timer: NodeJS.Timeout;
}

export class LogThrottle {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly opts: ThrottleOptions) {}

  /** True when a line for `key` may be written now. */
  take(key: string): boolean {
    let state = this.keys.get(key);
    if (!state) {
      const timer = setTimeout(() => this.close(key), this.opts.windowMs);
      timer.unref();
      state = { written: 0, suppressed: 0, timer };
      this.keys.set(key, state);
    }
    if (state.written < this.opts.burst) {
      state.written++;
      return true;
    }
    state.suppressed++;
    return false;
  }

  /** Ends every window now (reporting what each dropped); used at shutdown. */
  flush(): void {
    for (const key of [...this.keys.keys()]) this.close(key);
  }

  private close(key: string): void {
    const state = this.keys.get(key);
    if (!state) return;
    clearTimeout(state.timer);
    this.keys.delete(key);
    if (state.suppressed > 0) this.opts.onSuppressed(key, state.suppressed);
  }
}
