import type { MasterChange, TopologySnapshot } from '../topology/types.js';

/** What a sink reports about itself for the API and metrics. */
export interface SinkStatus {
  name: string;
  /** ISO time of the last successful apply, or null. */
  lastAppliedAt: string | null;
  /** Topology version the sink has applied (null = nothing yet). */
  appliedVersion: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Free-form sink-specific details (reload counts, last runtime switch, ...). */
  details?: Record<string, unknown>;
}

/**
 * An output adapter. `apply` receives the whole current state plus the changes since the
 * snapshot the sink last applied successfully. The runner never calls `apply` concurrently on
 * one sink, coalesces bursts into one call, and retries a rejected apply with backoff.
 */
export interface Sink {
  readonly name: string;
  /**
   * Optional: wait this long after the first change of a burst before applying, so changes that
   * arrive together (many clusters failing over at once) are applied together (one reload).
   */
  readonly settleMs?: number;
  /** Optional one-time preparation before the first apply (e.g. load and check a template). Throwing refuses start-up. */
  init?(): Promise<void>;
  apply(snapshot: TopologySnapshot, changes: MasterChange[]): Promise<void>;
  status(): SinkStatus;
  close(): Promise<void>;
}
