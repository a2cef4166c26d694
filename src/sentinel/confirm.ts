import type { MasterAddress } from '../topology/types.js';

/**
 * The confirmed-master rule, kept pure so it can be tested exhaustively.
 *
 * A master address is confirmed for a cluster only if:
 *  (a) it is named by the sentinel view(s) with the highest config-epoch among healthy sentinels
 *      (a stale or partitioned sentinel carries a lower epoch and cannot flip us back), and all
 *      views at that epoch agree on it;
 *      Views older than the epoch already confirmed are ignored altogether.
 *  (b) it is not a placeholder (empty, 0.0.0.0, ::, port 0), and it is named by a settled view
 *      (not one marking the master objectively down or in the middle of a failover: the failover
 *      leader's view keeps the old address at the new epoch until the failover ends);
 *  (c) the instance itself answers ROLE as master (checked by the caller: see `needsProbe`).
 */

export interface SentinelView {
  sentinel: string;
  ip: string;
  port: number;
  configEpoch: number;
  flags: readonly string[];
}

export type Decision =
  | { kind: 'candidate'; master: MasterAddress; configEpoch: number; agreeing: string[] }
  | { kind: 'none'; reason: string };

const PLACEHOLDER_IPS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

export function isPlaceholder(ip: string, port: number): boolean {
  return PLACEHOLDER_IPS.has(ip.trim()) || port <= 0 || port > 65535;
}

const UNSETTLED_FLAGS = ['o_down', 'failover_in_progress', 'promoted'];

/**
 * Pick the address the freshest sentinel configuration names, or say why there is none.
 * `minEpoch` is the epoch of the master we already confirmed: views older than it are ignored, so
 * losing the sentinel that carried the newest epoch can never send us back to an older master.
 */
export function chooseMaster(views: readonly SentinelView[], minEpoch = 0): Decision {
  const fresh = views.filter((v) => v.configEpoch >= minEpoch);
  if (fresh.length === 0 && views.length > 0) {
    return { kind: 'none', reason: `sentinels report config-epoch ${Math.max(...views.map((v) => v.configEpoch))}, older than the confirmed ${minEpoch}` };
  }
  const usable = fresh.filter((v) => !isPlaceholder(v.ip, v.port));
  if (usable.length === 0) {
    return { kind: 'none', reason: views.length === 0 ? 'no healthy sentinel knows this cluster' : 'sentinels report only placeholder addresses' };
  }
  const top = Math.max(...usable.map((v) => v.configEpoch));
  const atTop = usable.filter((v) => v.configEpoch === top);
  // During a failover the leader's own view keeps the old address, flagged failover_in_progress,
  // at the new epoch, while the others already follow the new configuration: settled views win.
  const settled = atTop.filter((v) => !v.flags.some((f) => UNSETTLED_FLAGS.includes(f)));
  if (settled.length === 0) {
    const first = atTop[0]!;
    return { kind: 'none', reason: `master ${first.ip}:${first.port} is ${first.flags.join(',')}` };
  }
  const addresses = new Set(settled.map((v) => `${v.ip}|${v.port}`));
  if (addresses.size > 1) {
    return {
      kind: 'none',
      reason: `sentinels disagree at config-epoch ${top}: ${settled.map((v) => `${v.sentinel} names ${v.ip}:${v.port}${v.flags.length ? ` (${v.flags.join(',')})` : ''}`).join('; ')}`,
    };
  }
  const first = settled[0]!;
  return {
    kind: 'candidate',
    master: { ip: first.ip, port: first.port },
    configEpoch: top,
    agreeing: settled.map((v) => v.sentinel).sort(),
  };
}

export function sameAddress(a: MasterAddress | null, b: MasterAddress | null): boolean {
  return a !== null && b !== null && a.ip === b.ip && a.port === b.port;
}
