/**
 * What verification reports per output and cluster: did a new client, going the way clients go
 * (through the proxy, or by looking the master up in Consul), reach the confirmed master?
 *
 * - verified: it reached the confirmed master (same run_id, or the registry names its address);
 * - pending: an apply is still taking effect (a reload's old workers may accept for a moment);
 * - wrong: it reached another instance (which one is in `reached`);
 * - unreachable: nothing answered through the door, or the confirmed master itself did not
 *   (then there is nothing to compare with).
 */
export type RouteState = 'verified' | 'pending' | 'wrong' | 'unreachable';

/** Who answered a connection: from ROLE and INFO server. */
export interface Identity {
  runId: string;
  role: string;
  /** INFO server's tcp_port: the instance's own port (the door's port when it is a proxy). */
  tcpPort: number | null;
}

/** Where a wrong route led: an instance (run_id, role, its own port), or a registry entry's address. */
export interface Reached {
  runId?: string;
  role?: string;
  /** host:port when known (a registry entry), or ":<tcp_port>" from INFO server. */
  address?: string;
}

/**
 * One check's finding, before the timing of an apply is taken into account. A read door's
 * verified verdict says which pool member answered (`servedBy`), or, when reads must be refused
 * (no serving replica, ReadFallbackToMaster false), how the door refused (`refused`).
 */
export type Verdict = { state: 'verified'; servedBy?: string; refused?: string } | { state: 'wrong'; reached: Reached } | { state: 'unreachable'; error: string; /** false: applying again cannot help (the master is down, or nothing listens at the door). */ applyAgain?: false };

/**
 * Which door of a cluster a route is about: `write` is the ExternalPort (the confirmed master),
 * `read` the ExternalReadPort (the read pool; docs/verification.md#read-doors).
 */
export type DoorRole = 'write' | 'read';

/**
 * Where a read door must lead now, from the cluster's read pool: one of the serving replicas; the
 * confirmed master when none serves and ReadFallbackToMaster is on; nowhere (refused) when it is off.
 */
export interface ReadExpectation {
  target: 'replicas' | 'master' | 'none';
  /** host:port of each instance a read may reach (the serving replicas, or the master); [] for none. */
  members: string[];
}

/** A failure to ask something (a connection refused, a timeout, an AUTH refused). */
export interface Failure {
  error: string;
}

/** What /api/topology and the status page show per output and cluster. */
export interface RouteVerification {
  state: RouteState;
  /** The confirmed master this state is about (host:port). */
  master: string;
  /**
   * Read doors only: where reads must go (`replicas`, `master` or `none`) and the pool's members
   * (host:port) this state is about. A change of either is a new route, as a new master is for a
   * write door.
   */
  readTarget?: ReadExpectation['target'];
  readPool?: string[];
  /** Read doors, verified: the pool member (host:port) the check's connection reached. */
  servedBy?: string;
  /** Read doors, verified with target `none`: how the door refused (the connection's error). */
  refused?: string;
  /** Where clients were checked (host:port of the door, or "consul"). */
  door: string;
  /** ISO time of the last check with a verdict. */
  checkedAt: string | null;
  /** ISO time the route was last found verified (null: not since the master changed). */
  verifiedAt: string | null;
  /** Where a wrong route led. */
  reached?: Reached;
  /** Why it is unreachable. */
  error?: string;
  /** Applies done again because the route was wrong, since it was last verified. */
  retries: number;
  /** The retries are used up: reported, not applied again until the route changes or is verified. */
  gaveUp: boolean;
}
