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

/** One check's finding, before the timing of an apply is taken into account. */
export type Verdict = { state: 'verified' } | { state: 'wrong'; reached: Reached } | { state: 'unreachable'; error: string };

/** A failure to ask something (a connection refused, a timeout, an AUTH refused). */
export interface Failure {
  error: string;
}

/** What /api/topology and the status page show per output and cluster. */
export interface RouteVerification {
  state: RouteState;
  /** The confirmed master this state is about (host:port). */
  master: string;
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
