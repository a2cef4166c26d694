import type { MasterAddress } from '../topology/types.js';
import { sameAddress, isSettled } from './confirm.js';
import { agreeingCount, type CountedGroup } from './counted.js';
import type { ClusterDecision } from './decision.js';
import type { SentinelLink } from './link.js';
import { SentinelState, stateName } from './state.js';
import type { ClusterQuorumStatus, ClusterViewStatus, SentinelStatus } from './status.js';

/** The status the API, the metrics and the status page show, read from the decisions (pure). */

export function clusterReport(d: ClusterDecision, g: CountedGroup, master: MasterAddress | null, alive: (sentinel: string) => boolean, startedAt: string): ClusterQuorumStatus {
  const views: ClusterViewStatus[] = [];
  for (const [sentinel, v] of d.views) {
    if (!alive(sentinel)) continue;
    views.push({ sentinel, ip: v.ip, port: v.port, configEpoch: v.configEpoch, flags: [...v.flags], agrees: sameAddress(master, v), inGroup: g.countedSentinels.has(sentinel) });
  }
  views.sort((a, b) => (a.sentinel < b.sentinel ? -1 : 1));
  const held = d.hold ? { code: d.hold.code, reason: d.hold.reason, since: d.hold.since } : master ? null : { code: 'no-master-yet' as const, reason: 'no master confirmed yet', since: startedAt };
  return { quorum: g.quorum, knownSentinels: g.counted.length, agreeingSentinels: agreeingCount(g, master), held, views, staleView: d.staleView };
}

export interface ClusterOfLink {
  name: string;
  decision: ClusterDecision;
  group: CountedGroup;
  master: MasterAddress | null;
}

export function sentinelReport(link: SentinelLink, clusters: readonly ClusterOfLink[]): SentinelStatus {
  const outOfGroup: string[] = [];
  const disagrees: string[] = [];
  for (const c of clusters) {
    const view = c.decision.views.get(link.sentinel);
    if (!view || link.state !== SentinelState.Alive) continue;
    if (!c.group.countedSentinels.has(link.sentinel)) outOfGroup.push(c.name);
    if (c.master && isSettled(view.flags) && !sameAddress(c.master, view)) disagrees.push(c.name);
  }
  return {
    id: link.id,
    outOfGroup,
    disagrees,
    sentinelLocation: link.sentinel,
    lastUpdated: link.lastUpdated.toISOString(),
    clusters: link.masters,
    state: link.state,
    stateName: stateName[link.state],
    configured: link.configured,
    lastError: link.lastError,
    messages: link.messages,
    malformedMessages: link.malformedMessages,
    fullPolls: link.fullPolls,
    lightPolls: link.lightPolls,
    fullPollsOnChange: link.fullPollsOnChange,
  };
}
