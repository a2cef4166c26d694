import type { MasterAddress, ReadCandidate, ReadPool } from '../topology/types.js';
import { sameAddress } from './confirm.js';
import type { ReplicaInfo } from './parse.js';
import type { RoleReport } from './role.js';

/**
 * Which replicas serve reads (pure). A replica serves only when every source agrees it can:
 * the sentinels of the group that name the confirmed master list it as healthy and linked, and
 * the confirmed master itself, through ROLE, lists it as connected and within the lag limit.
 * The master's word is what keeps an instance that only claims to be a replica (an old master
 * coming back, still a master) out: it is not connected to the confirmed master, so it is out.
 */

export interface PoolInput {
  master: MasterAddress;
  /** SENTINEL REPLICAS of the confirmed master, per agreeing live sentinel (fresh lists only). */
  lists: readonly (readonly ReplicaInfo[])[];
  /** The confirmed master's latest ROLE answer, or null when there is none recent enough. */
  role: RoleReport | null;
  maxLagBytes: number;
  /**
   * The master's offset one acknowledgement period ago (replicas acknowledge once a second), or
   * the current one when no older sample exists. The lag is measured from it: an in-sync replica
   * then shows 0 however fast the master writes, and a stalled one grows with every write.
   */
  referenceOffset?: number;
  /** False for clusters without a read endpoint: no ROLE poll, so lag and connection are not checked. */
  measureLag: boolean;
}

const DOWN_FLAGS = new Set(['s_down', 'o_down']);

/** The first reason a replica is out, or null when it serves. Order: the most basic fact first. */
function reasonOut(entries: readonly ReplicaInfo[], input: PoolInput, lag: number | null, connected: boolean): ReadCandidate['reason'] {
  if (sameAddress(input.master, entries[0]!)) return 'is-master';
  if (entries.some((e) => e.flags.some((f) => DOWN_FLAGS.has(f)))) return 'down';
  if (entries.some((e) => e.flags.includes('disconnected'))) return 'disconnected';
  if (entries.some((e) => e.masterLinkStatus !== 'ok')) return 'link-down';
  if (!input.measureLag) return null;
  if (!input.role) return 'lag-unknown';
  if (input.role.role !== 'master') return 'master-not-master';
  if (!connected) return 'not-connected';
  if (lag === null || lag > input.maxLagBytes) return 'lagging';
  return null;
}

export function computeReadPool(input: PoolInput): ReadPool {
  const byAddress = new Map<string, ReplicaInfo[]>();
  for (const list of input.lists) {
    for (const r of list) {
      const key = `${r.ip} ${r.port}`;
      const seen = byAddress.get(key);
      if (seen) seen.push(r);
      else byAddress.set(key, [r]);
    }
  }
  const acked = new Map((input.role?.replicas ?? []).map((r) => [`${r.ip} ${r.port}`, r.offset]));
  const candidates: ReadCandidate[] = [];
  for (const [key, entries] of byAddress) {
    const offset = acked.get(key);
    const lag = input.role && offset !== undefined ? Math.max(0, Math.min(input.referenceOffset ?? input.role.offset, input.role.offset) - offset) : null;
    const reason = reasonOut(entries, input, lag, offset !== undefined);
    const first = entries[0]!;
    candidates.push({ ip: first.ip, port: first.port, state: reason === null ? 'serving' : 'out', reason, lagBytes: lag });
  }
  candidates.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
  return { candidates, serving: candidates.filter((c) => c.state === 'serving').map((c) => ({ ip: c.ip, port: c.port })) };
}

/** Only the serving set matters to outputs; lags and reasons change often and are shown, not applied. */
export function servingKey(pool: ReadPool): string {
  return pool.serving.map((r) => `${r.ip} ${r.port}`).join(',');
}
