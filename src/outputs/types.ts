import type { MasterChange, TopologySnapshot } from '../topology/types.js';

/** What an output reports about itself for the API and metrics. */
export interface OutputStatus {
  name: string;
  /** ISO time of the last successful apply, or null. */
  lastAppliedAt: string | null;
  /** Topology version the output has applied (null = nothing yet). */
  appliedVersion: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Free-form output-specific details (reload counts, last runtime switch, ...). */
  details?: Record<string, unknown>;
}

/**
 * An output adapter. `apply` receives the whole current state plus the changes since the
 * snapshot the output last applied successfully. The runner never calls `apply` concurrently on
 * one output, coalesces bursts into one call, and retries a rejected apply with backoff.
 */
export interface Output {
  readonly name: string;
  /**
   * Optional: wait this long after the first change of a burst before applying, so changes that
   * arrive together (many clusters failing over at once) are applied together (one reload).
   */
  readonly settleMs?: number;
  /** Optional one-time preparation before the first apply (e.g. load and check a template). Throwing refuses start-up. */
  init?(): Promise<void>;
  apply(snapshot: TopologySnapshot, changes: MasterChange[]): Promise<void>;
  status(): OutputStatus;
  close(): Promise<void>;
}
