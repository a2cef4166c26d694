import type { MasterAddress, MasterChange, TopologySnapshot } from '../topology/types.js';

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
  /**
   * Optional: where clients reach the masters this output presents, so src/verify can prove they
   * reach the confirmed one. Absent: the output is not verified (hooks fire events, there is no door).
   */
  frontDoor?(): FrontDoor;
  /**
   * Optional: verification found the outside world differs for these clusters although the last
   * apply succeeded; the next apply must do the work again instead of trusting its own record
   * (rewrite and reload, register again).
   */
  forget?(clusters: readonly string[]): void;
}

/**
 * How a verifier reaches what clients reach. One kind per way of checking, each a small function
 * in src/verify/checks.ts (a proxy's read doors are a flag of the proxy door: same host and TLS).
 */
export type FrontDoor = ((ProxyDoor | RegistryDoor) & VerifyRhythm) | { kind: 'off'; reason: string };

/** How often a door is checked while nothing changes, and how many times a wrong route is applied again. */
export interface VerifyRhythm {
  intervalMs: number;
  retries: number;
}

export interface ProxyDoor {
  /** A proxy clients connect to: a new Redis connection through it must reach the confirmed master. */
  kind: 'proxy';
  host: string;
  /** Clusters whose door is not their ExternalPort. */
  ports: Readonly<Record<string, number>>;
  /**
   * The proxy also serves read doors: each cluster with an ExternalReadPort is checked at
   * host:<ExternalReadPort> against its read pool (docs/verification.md#read-doors).
   */
  reads: boolean;
  /** Speak TLS through the door (a TCP proxy passing the instances' TLS through); undefined: as the ROLE probe does. */
  tls: boolean | undefined;
  /**
   * How long after an apply the previous configuration may still take new connections (nginx's
   * old workers, ~100 ms): a check that succeeds earlier proves nothing yet. 0 after a live switch.
   */
  settleMs: number;
}

export interface RegistryDoor {
  /** A registry clients look the master up in (Consul): the entry read back must name the confirmed master. */
  kind: 'registry';
  read(clusters: readonly string[]): Promise<Map<string, MasterAddress | null>>;
}
