import type { MasterAddress } from '../topology/types.js';
import { joinHostPort } from '../config/address.js';

/**
 * The confirmed-master rule, kept pure so it can be tested exhaustively.
 *
 * A master address is confirmed for a cluster only if:
 *  (a) at least `quorum` sentinels of the cluster's group name it, in settled views, at the same
 *      config-epoch; among such quorum-backed (epoch, address) pairs the highest epoch wins. A
 *      higher epoch that fewer than `quorum` sentinels report is not adopted, and it does not block
 *      lower quorum-backed epochs (one stray sentinel can neither move nor freeze us). Sentinel
 *      itself needs a majority to authorise a failover, and the group learns a new configuration
 *      within milliseconds, so waiting for a quorum costs a real failover next to nothing;
 *  (b) its epoch is not below `minEpoch`, the epoch of the master already confirmed (a stale
 *      partitioned sentinel cannot flip us back). A quorum at a lower epoch is reported separately
 *      (`below-floor`): it means the sentinel group was rebuilt, and the caller follows it only
 *      after probing both instances;
 *  (c) it is not a placeholder (empty, 0.0.0.0, ::, port 0), and the views are settled (not marking
 *      the master objectively down or in the middle of a failover: the failover leader's view keeps
 *      the old address at the new epoch until the failover ends);
 *  (d) the instance itself answers ROLE as master (checked by the caller).
 */

export interface SentinelView {
  sentinel: string;
  ip: string;
  port: number;
  configEpoch: number;
  flags: readonly string[];
}

export interface RuleOptions {
  /** Sentinels that must agree (≥ 1). */
  quorum: number;
  /** Config-epoch of the master already confirmed (the floor). */
  minEpoch?: number;
}

interface Backed {
  master: MasterAddress;
  configEpoch: number;
  agreeing: string[];
}

export type Decision =
  | ({ kind: 'candidate' } & Backed)
  /** A quorum names this address at an epoch below the floor: a rebuilt sentinel group, or nothing. */
  | ({ kind: 'below-floor' } & Backed)
  | { kind: 'none'; code: HoldCode; reason: string };

/**
 * Why no (new) master is confirmed, as a stable word for alerts, dashboards and scripts (the
 * human `reason` beside it changes with the views). See docs/reliability.md for each.
 */
export type HoldCode =
  | 'no-master-yet'
  | 'no-sentinel'
  | 'placeholder'
  | 'failover-in-progress'
  | 'split-vote'
  | 'no-quorum'
  | 'below-floor'
  | 'probe-failed'
  | 'unrelated-groups'
  | 'waiting-for-sentinels';

const PLACEHOLDER_IPS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

export function isPlaceholder(ip: string, port: number): boolean {
  return PLACEHOLDER_IPS.has(ip.trim()) || port <= 0 || port > 65535;
}

const UNSETTLED_FLAGS = ['o_down', 'failover_in_progress', 'promoted'];

export function isSettled(flags: readonly string[]): boolean {
  return !flags.some((f) => UNSETTLED_FLAGS.includes(f));
}

/** Quorum for `known` sentinels: a majority, or the configured number. */
export function quorumFor(setting: number | 'majority', known: number): number {
  return setting === 'majority' ? Math.floor(Math.max(known, 1) / 2) + 1 : setting;
}

const addr = (v: { ip: string; port: number }) => joinHostPort(v.ip, v.port);

/** What each sentinel claims, for hold reasons: "s1 names 10.0.0.1:6379 at epoch 3 (o_down)". */
export function describeViews(views: readonly SentinelView[]): string {
  return views.map((v) => `${v.sentinel} names ${addr(v)} at epoch ${v.configEpoch}${isSettled(v.flags) ? '' : ` (${v.flags.filter((f) => UNSETTLED_FLAGS.includes(f)).join(',')})`}`).join('; ');
}

/**
 * Pick the address a quorum of sentinels names at the highest epoch, or say why there is none.
 * Each sentinel counts once (views must already be one per sentinel of the group).
 */
export function chooseMaster(views: readonly SentinelView[], opts: RuleOptions): Decision {
  const quorum = Math.max(1, opts.quorum);
  const minEpoch = opts.minEpoch ?? 0;
  if (views.length === 0) return { kind: 'none', code: 'no-sentinel', reason: 'no healthy sentinel of the group knows this cluster' };
  const usable = views.filter((v) => !isPlaceholder(v.ip, v.port) && isSettled(v.flags));
  // (epoch, address) → the sentinels naming it.
  const groups = new Map<string, Backed>();
  for (const v of usable) {
    const key = `${v.configEpoch}|${v.ip}|${v.port}`;
    const g = groups.get(key) ?? { master: { ip: v.ip, port: v.port }, configEpoch: v.configEpoch, agreeing: [] };
    if (!g.agreeing.includes(v.sentinel)) g.agreeing.push(v.sentinel);
    groups.set(key, g);
  }
  const backed = [...groups.values()].filter((g) => g.agreeing.length >= quorum).sort((a, b) => b.configEpoch - a.configEpoch);
  const pick = (list: Backed[]): Backed | 'split' | null => {
    if (list.length === 0) return null;
    const top = list.filter((g) => g.configEpoch === list[0]!.configEpoch);
    return top.length > 1 ? 'split' : top[0]!;
  };
  const freshList = backed.filter((g) => g.configEpoch >= minEpoch);
  const fresh = pick(freshList);
  if (fresh === 'split') return { kind: 'none', code: 'split-vote', reason: `sentinels disagree at config-epoch ${freshList[0]!.configEpoch} (quorum ${quorum}): ${describeViews(views)}` };
  if (fresh) return { kind: 'candidate', ...fresh, agreeing: [...fresh.agreeing].sort() };
  const stale = pick(backed);
  if (stale === 'split') return { kind: 'none', code: 'split-vote', reason: `sentinels disagree at config-epoch ${backed[0]!.configEpoch}, below the confirmed ${minEpoch} (quorum ${quorum}): ${describeViews(views)}` };
  if (stale) return { kind: 'below-floor', ...stale, agreeing: [...stale.agreeing].sort() };
  if (usable.length === 0) {
    const placeholders = views.every((v) => isPlaceholder(v.ip, v.port));
    return placeholders ? { kind: 'none', code: 'placeholder', reason: 'sentinels report only placeholder addresses' } : { kind: 'none', code: 'failover-in-progress', reason: `no settled view: ${describeViews(views)}` };
  }
  return { kind: 'none', code: 'no-quorum', reason: `no ${quorum} sentinels agree on a master (quorum ${quorum} of the group): ${describeViews(views)}` };
}

export { sameAddress } from '../config/address.js';
