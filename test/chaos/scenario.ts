import { Redis } from 'ioredis';
import type { Ack, WriterPool } from './writer.js';

/** Sentinel switched the cluster to `master` at `at` (first +switch-master our own subscriber saw). */
export interface Switch {
  at: number;
  master: number;
}

export interface Summary {
  scenario: string;
  acked: number;
  acked_by_unconfirmed_master: number;
  lost_after_switch: number;
  unavailable_ms: number;
}

export interface Detail {
  /** Acknowledged writes the final master does not have, whenever acknowledged (includes what asynchronous replication loses before a switch). */
  missingOnFinalMaster: number;
  /**
   * Of those, the ones acknowledged by the master Sentinel had confirmed at that moment: lost by
   * Redis/Sentinel themselves (asynchronous replication; a later failover promoting a replica
   * that had not received them), not by where redishappy sent clients.
   */
  missingAckedByConfirmedMaster: number;
  /** Writes sent to a node before it stopped being the master and still unanswered at the switch: acknowledged later (counted above) or cut. */
  inFlightAtSwitch: number;
  cutAtSwitch: number;
  writerErrors: number;
}

/** Which node was master at time t according to the switches (null before the first switch: the initial master, not tracked). */
function masterAt(switches: readonly Switch[], t: number): number | null {
  let m: number | null = null;
  for (const s of switches) if (s.at <= t) m = s.master;
  return m;
}

/** Which of `keys` the node on `port` does not have. */
async function missingKeys(port: number, keys: string[]): Promise<Set<string>> {
  const missing = new Set<string>();
  if (keys.length === 0) return missing;
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 5000 });
  c.on('error', () => {});
  try {
    await c.connect();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const values = await c.mget(...batch);
      values.forEach((v, j) => v === null && missing.add(batch[j]!));
    }
    return missing;
  } finally {
    c.disconnect();
  }
}

/**
 * The numbers of one scenario, printed as the summary line CI shows:
 *
 * - acked_by_unconfirmed_master: writes acknowledged by a node after the moment it stopped being
 *   the master (the first +switch-master seen by the test's own subscriber), i.e. after the first
 *   switch, by any node other than the master of that moment.
 * - lost_after_switch: writes the new master acknowledged after the (last) switch that the final
 *   master does not have.
 * - unavailable_ms: the longest gap without any acknowledged write.
 */
export async function summarize(scenario: string, pool: WriterPool, switches: readonly Switch[], finalMasterPort: number): Promise<Summary & { detail: Detail }> {
  const sorted = [...pool.acks].sort((a, b) => a.at - b.at);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]!.at - sorted[i - 1]!.at);

  const first = switches[0];
  const unconfirmed = first ? sorted.filter((a) => a.at > first.at && a.node !== masterAt(switches, a.at)).length : 0;

  const last = switches.at(-1);
  const mustHave: Ack[] = last ? sorted.filter((a) => a.at > last.at && a.node === last.master) : [];
  const lost = (await missingKeys(finalMasterPort, mustHave.map((a) => a.key))).size;
  const missingSet = await missingKeys(finalMasterPort, sorted.map((a) => a.key));
  const missingOnFinalMaster = missingSet.size;
  const initial = first ? sorted.find((a) => a.at <= first.at)?.node : sorted[0]?.node;
  const missingAckedByConfirmedMaster = sorted.filter((a) => missingSet.has(a.key) && a.node === (masterAt(switches, a.at) ?? initial)).length;

  let inFlight = 0;
  let cut = 0;
  switches.forEach((s, i) => {
    const before = i === 0 ? null : switches[i - 1]!.master;
    const pending = (x: { node: number; sentAt: number }, end: number) => x.sentAt < s.at && end >= s.at && (before === null ? x.node !== s.master : x.node === before);
    inFlight += pool.acks.filter((a) => pending(a, a.at)).length;
    const cutHere = pool.failures.filter((f) => pending(f, f.failedAt)).length;
    inFlight += cutHere;
    cut += cutHere;
  });

  const summary = { scenario, acked: sorted.length, acked_by_unconfirmed_master: unconfirmed, lost_after_switch: lost, unavailable_ms: gap };
  const detail: Detail = { missingOnFinalMaster, missingAckedByConfirmedMaster, inFlightAtSwitch: inFlight, cutAtSwitch: cut, writerErrors: pool.failures.length + pool.connectErrors };
  console.log(`scenario=${scenario} acked=${summary.acked} acked_by_unconfirmed_master=${unconfirmed} lost_after_switch=${lost} unavailable_ms=${gap}`);
  console.log(
    `chaos-detail scenario=${scenario} switches=${switches.length} missing_on_final_master=${missingOnFinalMaster} (acked_by_the_confirmed_master_then=${missingAckedByConfirmedMaster}) in_flight_at_switch=${inFlight} cut_at_switch=${cut} writer_errors=${detail.writerErrors} connections=${pool.connections}`,
  );
  return { ...summary, detail };
}

/** Median and max of a list of numbers, for the detail lines. */
export function medianMax(xs: number[]): { median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s.length ? s[Math.floor((s.length - 1) / 2)]! : 0, max: s.at(-1) ?? 0 };
}
