import type { Logger } from 'pino';
import type { MasterChange, TopologySnapshot } from '../topology/types.js';
import type { Output, OutputStatus } from './types.js';
import { sameAddress } from '../config/address.js';

export interface RunnerOptions {
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Called after each successful apply with the changes it carried and how long it took. */
  onApplied?: (output: string, changes: MasterChange[], applyMs: number) => void;
  onFailed?: (output: string, error: Error) => void;
}

/** Merge change lists so each cluster appears once: first `previous`, last `current`. */
export function mergeChanges(a: MasterChange[], b: MasterChange[]): MasterChange[] {
  const byCluster = new Map<string, MasterChange>();
  for (const c of [...a, ...b]) {
    const prior = byCluster.get(c.cluster);
    byCluster.set(c.cluster, prior ? { ...c, previous: prior.previous, announcedAt: prior.announcedAt ?? c.announcedAt } : c);
  }
  return [...byCluster.values()].filter((c) => !sameAddress(c.previous, c.current));
}

/**
 * Drives one output so that it can never block the watcher or other outputs: `submit` returns at once;
 * one apply runs at a time; whatever arrives meanwhile is coalesced into a single next apply of
 * the latest snapshot; a failed apply is retried with backoff (with the latest snapshot).
 */
export class OutputRunner {
  private pending: { snapshot: TopologySnapshot; changes: MasterChange[] } | null = null;
  private running: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** True while `retryTimer` is a retry backoff (not a settle window). */
  private backingOff = false;
  private failures = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private appliedVersion: number | null = null;
  private lastAppliedAt: string | null = null;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;

  constructor(
    readonly output: Output,
    private readonly log: Logger,
    private readonly opts: RunnerOptions = {},
  ) {
    this.retryMinMs = opts.retryMinMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 30000;
  }

  submit(snapshot: TopologySnapshot, changes: MasterChange[] = []): void {
    if (this.closed) return;
    this.pending = { snapshot, changes: mergeChanges(this.pending?.changes ?? [], changes) };
    // A new master change does not wait for the backoff of an earlier failure: try it at once.
    if (changes.length > 0 && this.backingOff && this.retryTimer && !this.running) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.backingOff = false;
    }
    if (this.running || this.retryTimer) return;
    const settle = changes.length > 0 ? (this.output.settleMs ?? 0) : 0;
    if (settle > 0) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (!this.running) this.kick();
      }, settle);
    } else this.kick();
  }

  /** The output's own status, with what the runner knows best: the version applied and the last failure. */
  status(): OutputStatus {
    const own = this.output.status();
    return {
      ...own,
      appliedVersion: this.appliedVersion,
      lastAppliedAt: this.lastAppliedAt ?? own.lastAppliedAt,
      lastError: this.lastError ?? own.lastError,
      lastErrorAt: this.lastError ? this.lastErrorAt : own.lastErrorAt,
      details: { ...own.details, pending: this.pending !== null, consecutiveFailures: this.failures },
    };
  }

  /** An apply runs, waits (settle window, retry backoff) or is queued: what the output shows may be about to change. */
  busy(): boolean {
    return this.running !== null || this.pending !== null || this.retryTimer !== null;
  }

  /** The backoff before attempt `n` (1, 2, ...) of something this output failed at: 0.5 s, 1 s, 2 s ... with jitter. */
  backoffMs(n: number): number {
    const base = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(Math.max(n, 1) - 1, 20));
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  /** Resolves when nothing is pending or running (used by tests and shutdown). */
  idle(): Promise<void> {
    if (!this.running && !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    const job = this.pending;
    if (!job || this.closed) {
      this.notifyIdle();
      return;
    }
    this.pending = null;
    if (job.changes.length > 0 && this.log.isLevelEnabled('debug')) {
      const confirmed = Math.max(...job.changes.map((c) => Date.parse(c.confirmedAt)));
      this.log.debug({ output: this.output.name, sinceConfirmedMs: Date.now() - confirmed }, 'apply of a master change starts');
    }
    this.running = (async () => {
      const started = performance.now();
      try {
        await this.output.apply(job.snapshot, job.changes);
        if (this.failures > 0) this.log.info({ output: this.output.name }, 'output recovered');
        this.failures = 0;
        this.appliedVersion = job.snapshot.version;
        this.lastAppliedAt = new Date().toISOString();
        this.lastError = null;
        this.opts.onApplied?.(this.output.name, job.changes, performance.now() - started);
      } catch (err) {
        this.failures++;
        this.lastError = (err as Error).message;
        this.lastErrorAt = new Date().toISOString();
        this.opts.onFailed?.(this.output.name, err as Error);
        // Retry with the newest state, keeping the changes not yet applied.
        this.pending = this.pending ? { snapshot: this.pending.snapshot, changes: mergeChanges(job.changes, this.pending.changes) } : job;
        const delay = this.backoffMs(this.failures);
        this.log.error({ output: this.output.name, err: (err as Error).message, attempt: this.failures, retryInMs: delay }, 'output failed to apply; will retry');
        if (!this.closed) {
          this.backingOff = true;
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.backingOff = false;
            if (!this.running) this.kick();
          }, delay);
        }
      }
    })().finally(() => {
      this.running = null;
      if (!this.retryTimer) this.kick();
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backingOff = false;
    this.pending = null;
    if (this.running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.notifyIdle();
    await this.output.close();
  }
}
