import type { HoldCode } from './confirm.js';
import type { StaleView } from './decision.js';
import type { SentinelStateValue } from './state.js';

/** What the API, the metrics and the status page read about the sentinels and the decisions. */

export interface SentinelStatus {
  sentinelLocation: string;
  lastUpdated: string;
  clusters: string[] | null;
  state: SentinelStateValue;
  stateName: string;
  configured: boolean;
  lastError: string | null;
  /** The sentinel's own id (SENTINEL MYID), null until known. */
  id: string | null;
  /** Configured clusters for which this sentinel is not in the group (lists no peer, listed by none): its view is not counted. */
  outOfGroup: string[];
  /** Configured clusters for which this sentinel's view names another master than the confirmed one. */
  disagrees: string[];
  /** Pub/sub messages received from this sentinel since it was added, and the malformed ones. */
  messages: number;
  malformedMessages: number;
  /** Polls that read every master (SENTINEL MASTERS), and cheap ones (INFO sentinel) that found nothing changed. */
  fullPolls: number;
  lightPolls: number;
  /** Full polls caused by a change the cheap poll saw. */
  fullPollsOnChange: number;
}

/** One sentinel's latest view of a cluster, for the API and the status page. */
export interface ClusterViewStatus {
  sentinel: string;
  ip: string;
  port: number;
  configEpoch: number;
  flags: string[];
  /** Names the confirmed master. */
  agrees: boolean;
  /** Counted in the cluster's group (false: not listed as a peer by the others, and lists none). */
  inGroup: boolean;
}

/** Why a cluster's master is not (re)confirmed right now. */
export interface Hold {
  code: HoldCode;
  reason: string;
  since: string;
}

/** How the quorum stands for one cluster. */
export interface ClusterQuorumStatus {
  /** Sentinels that must agree. */
  quorum: number;
  /** Sentinels counted for the cluster (configured and discovered, up or down, in the group). */
  knownSentinels: number;
  /** Sentinels of the group whose settled view names the confirmed master. */
  agreeingSentinels: number;
  /** Why no (new) master is confirmed right now, or null. */
  held: Hold | null;
  views: ClusterViewStatus[];
  /** The last view refused for naming another instance below the confirmed config-epoch (a stale sentinel), or null. */
  staleView: StaleView | null;
}

/** Something the watcher noticed, for the events log and the status page. */
export interface WatcherEvent {
  type: 'sentinel-state' | 'announcement' | 'failover' | 'hold' | 'hold-released';
  at: string;
  [key: string]: unknown;
}
