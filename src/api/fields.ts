import type { ClusterQuorumStatus } from '../sentinel/status.js';

/** The quorum part of a cluster in /api/topology and the live state. */
export function quorumFields(q: ClusterQuorumStatus) {
  return { quorum: q.quorum, knownSentinels: q.knownSentinels, held: q.held, views: q.views, staleView: q.staleView };
}
