/** A Redis instance address as reported by Sentinel (ip may be an IPv6 literal or a hostname). */
export interface MasterAddress {
  ip: string;
  port: number;
}

/** Why a replica is not in the read pool (null: it serves). */
export type ReadOutReason =
  | 'is-master'
  | 'down'
  | 'disconnected'
  | 'link-down'
  | 'lag-unknown'
  | 'master-not-master'
  | 'not-connected'
  | 'lagging';

/** One replica Sentinel lists for the confirmed master, and whether it serves reads. */
export interface ReadCandidate {
  ip: string;
  port: number;
  state: 'serving' | 'out';
  reason: ReadOutReason | null;
  /** Master offset minus the offset this replica acknowledged (ROLE on the master); null when not measured. */
  lagBytes: number | null;
}

export interface ReadPool {
  candidates: ReadCandidate[];
  /** The serving candidates' addresses, sorted. */
  serving: MasterAddress[];
}

/** One configured cluster as the daemon currently sees it. `master` is null until a master is confirmed. */
export interface ClusterState {
  name: string;
  externalPort: number;
  master: MasterAddress | null;
  /** Sentinel config-epoch of the view that named the confirmed master. */
  configEpoch: number | null;
  /** ISO-8601 UTC time the current master was confirmed. */
  confirmedAt: string | null;
  /** host:port of the sentinels whose view agreed with the confirmed master at that time. */
  agreeingSentinels: string[];
  /**
   * The replicas serving reads (the read pool's serving ones, sorted), for read backends in
   * template outputs and Consul. Filled by the watcher through TopologyStore.setReadPool; [] until
   * then. Not part of what makes a master confirmed, and a change of replicas is not a master change.
   */
  replicas?: MasterAddress[];
  /** The read twin of externalPort; null when the cluster has no read endpoint. */
  externalReadPort?: number | null;
  /** With no serving replica, reads go to the confirmed master (false: refused). */
  readFallbackToMaster?: boolean;
  /**
   * Every replica considered for reads with its state, lag and why it is out; null until first
   * computed, and for clusters without a read endpoint. `replicas` then holds its serving ones.
   */
  readPool?: ReadPool | null;
}

/** A change of confirmed master for one cluster. */
export interface MasterChange {
  cluster: string;
  previous: MasterAddress | null;
  current: MasterAddress;
  configEpoch: number | null;
  confirmedAt: string;
  /** ms since epoch when a sentinel first announced the switch (e.g. +switch-master), if known. */
  announcedAt: number | null;
}

/** The whole current view. Outputs always receive one of these, never a partial state. */
export interface TopologySnapshot {
  /** Every configured cluster, sorted by name (byte order). */
  clusters: ClusterState[];
  /** Increments every time any confirmed master changes. */
  version: number;
}
