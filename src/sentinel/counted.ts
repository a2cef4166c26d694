import { isSettled, quorumFor, sameAddress, type SentinelView } from './confirm.js';
import type { MasterAddress } from '../topology/types.js';
import { groupOf, matches, type GroupMember, type PeerRef } from './group.js';
import type { MasterView } from './parse.js';

/**
 * The sentinels counted for one cluster, from the facts the shell gives (pure): which sentinels
 * are known, which of them the cluster's group counts (group.ts), their usable views and the
 * quorum. The decision core (decision.ts) and the status report both read it.
 */

/** What the shell knows of one sentinel (configured or discovered). */
export interface SentinelFacts {
  sentinel: string;
  id: string | null;
  configured: boolean;
  /** Configured and not answered yet: its peers are still unknown. */
  pending: boolean;
  alive: boolean;
  /** Every master name it monitors (null until its first poll). */
  monitors: readonly string[] | null;
}

/** The world as the shell sees it at one input: the clock and the sentinels. */
export interface Env {
  now: number;
  sentinels: readonly SentinelFacts[];
  /** The cluster's quorum setting (Clusters[].Quorum, else Watcher.Quorum). */
  quorum: number | 'majority';
}

export interface CountedGroup {
  quorum: number;
  /** Members counted for the quorum and its denominator (sentinel ids, or addresses while unknown). */
  counted: string[];
  /** Addresses of the counted sentinels that the shell watches. */
  countedSentinels: Set<string>;
  /** Views of counted sentinels that are alive. */
  views: SentinelView[];
  /** Counted members with no view (down, not answering yet, or listed as a peer only). */
  silent: string[];
  /** Addresses of the known sentinels left out of the group. */
  outside: string[];
  /** Unrelated groups and no way to choose (see group.ts), else null. */
  unrelated: string[][] | null;
  /** Configured sentinels whose first answer the choice of group waits for. */
  waitingFor: string[];
}

export interface GroupInputs {
  name: string;
  views: ReadonlyMap<string, MasterView>;
  peers: ReadonlyMap<string, readonly PeerRef[]>;
  /** Sentinels that confirmed the current master (empty before the first). */
  anchor: readonly string[];
}

/**
 * Every sentinel known for the cluster, up or down (one never reached counts too), one per
 * sentinel id, plus peers listed by a member and not watched yet; then the group and its views.
 */
export function countedGroup(c: GroupInputs, env: Env): CountedGroup {
  const members: GroupMember[] = [];
  const watched = new Map<string, SentinelFacts>();
  // Alive ones first, so a sentinel reached under two addresses is represented by a live one.
  const known = [...env.sentinels].sort((a, b) => Number(b.alive) - Number(a.alive));
  for (const s of known) {
    if (s.monitors !== null && !s.monitors.includes(c.name)) continue;
    const key = s.id ?? s.sentinel;
    if (watched.has(key)) continue;
    watched.set(key, s);
    members.push({ key, sentinel: s.sentinel, id: s.id, listed: c.peers.get(s.sentinel) ?? null, configured: s.configured, pending: s.pending });
  }
  const memberSentinels = new Set(members.map((m) => m.sentinel));
  for (const [lister, refs] of c.peers) {
    if (!memberSentinels.has(lister)) continue;
    for (const ref of refs) {
      if (members.some((m) => matches(ref, m)) || env.sentinels.some((s) => matches(ref, { sentinel: s.sentinel, id: s.id }))) continue;
      members.push({ key: ref.id ?? ref.sentinel, sentinel: ref.sentinel, id: ref.id, listed: null });
    }
  }
  const group = groupOf(members, { anchor: c.anchor });
  const countedKeys = new Set(group.counted);
  const countedSentinels = new Set<string>();
  const views: SentinelView[] = [];
  const silent: string[] = [];
  for (const m of members) {
    if (!countedKeys.has(m.key)) continue;
    const s = watched.get(m.key);
    if (s) countedSentinels.add(s.sentinel);
    const v = s?.alive ? c.views.get(s.sentinel) : undefined;
    if (v) views.push({ sentinel: m.sentinel, ip: v.ip, port: v.port, configEpoch: v.configEpoch, flags: v.flags });
    else silent.push(m.sentinel);
  }
  const outside = members.filter((m) => !countedKeys.has(m.key)).map((m) => m.sentinel);
  return { quorum: quorumFor(env.quorum, group.counted.length), counted: group.counted, countedSentinels, views, silent, outside, unrelated: group.unrelated, waitingFor: group.waitingFor };
}

/** Counted sentinels whose settled view names `master`. */
export function agreeingCount(g: CountedGroup, master: MasterAddress | null): number {
  return g.views.filter((v) => isSettled(v.flags) && sameAddress(master, v)).length;
}
