import { isIP } from 'node:net';
import type { MasterChange } from '../../topology/types.js';
import { withAddresses, type LiveFields, type TemplateCluster, type TemplateData } from '../file/data.js';
import { assertSafeWord } from './runtime.js';

/**
 * What HAProxy's runtime API must do to go from the state it runs to the new one, or why it
 * cannot (then: validate, write, reload). Pure apart from rendering the template.
 *
 * Live is only right when the running HAProxy differs from the target in what the runtime API
 * can change: master addresses and the read backend's slots. The test: rendering the new state
 * with each cluster's RUNNING master and slots must give exactly the file on disk (what HAProxy
 * runs). A template edit, a cluster that appears or goes, a pool larger than its slots, or
 * anything else the template shows forces the file + reload path.
 */

export interface LiveSwitch {
  cluster: string;
  backend: string;
  server: string;
  ip: string;
  port: number;
  /** Switched only if the running HAProxy has it (the read backend's fallback to the master). */
  optional?: boolean;
}

export interface SlotUpdate {
  cluster: string;
  backend: string;
  server: string;
  ip: string;
  port: number;
  /** true: serve this replica; false: take no new connection (maint). */
  ready: boolean;
}

export type LivePlan = { switches: LiveSwitch[]; slots: SlotUpdate[] } | { reason: string; warn?: boolean };

export const readBackend = (cluster: string) => `bk_${cluster}_read`;
export const readFallbackServer = (cluster: string) => `R_${cluster}_read_master`;

export interface PlanInput {
  data: TemplateData;
  changes: readonly MasterChange[];
  onDisk: string;
  /** The data of the last successful apply, null after a start (then the changes say what ran). */
  running: TemplateData | null;
  /** Cluster → "backend/server" of the master (HAProxy.Servers), default bk_<name>/R_<name>_1. */
  servers: Readonly<Record<string, string>> | undefined;
  render: (data: TemplateData) => string;
}

function runningFields(c: TemplateCluster, input: PlanInput): LiveFields | { reason: string } {
  if (input.running) {
    const r = input.running.Clusters.find((x) => x.Name === c.Name);
    if (!r) return { reason: `cluster ${c.Name} is not presented yet (new frontend)` };
    return { ip: r.Ip, port: r.Port, readSlots: r.ReadSlots };
  }
  const change = input.changes.find((x) => x.cluster === c.Name);
  if (change && !change.previous) return { reason: `cluster ${c.Name} had no master before (new frontend)` };
  return change?.previous ? { ip: change.previous.ip, port: change.previous.port } : { ip: c.Ip, port: c.Port };
}

function safe(...pairs: Array<[string, string]>): string | null {
  try {
    for (const [what, value] of pairs) assertSafeWord(what, value);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export function planLive(input: PlanInput): LivePlan {
  const switches: LiveSwitch[] = [];
  const slots: SlotUpdate[] = [];
  const previous = new Map<string, LiveFields>();
  for (const c of input.data.Clusters) {
    const r = runningFields(c, input);
    if ('reason' in r) return r;
    previous.set(c.Name, r);
    if (r.ip !== c.Ip || r.port !== c.Port) {
      if (!isIP(c.Ip)) return { reason: `${c.Ip} is not an IP address` };
      const [backend, server] = (input.servers?.[c.Name] ?? `bk_${c.Name}/R_${c.Name}_1`).split('/') as [string, string];
      const bad = safe(['backend', backend], ['server', server], ['address', c.Ip]);
      if (bad) return { reason: bad };
      switches.push({ cluster: c.Name, backend, server, ip: c.Ip, port: c.Port });
      if (c.ExternalReadPort && c.ReadFallbackToMaster) switches.push({ cluster: c.Name, backend: readBackend(c.Name), server: readFallbackServer(c.Name), ip: c.Ip, port: c.Port, optional: true });
    }
    // Read slots exist in HAProxy only for a cluster with a read port: for the others the pool
    // still moves (.Replicas), but there is no server to set, and trying fails the switch.
    const was = r.readSlots;
    if (!was || !c.ExternalReadPort) continue;
    if (was.length !== c.ReadSlots.length) {
      return { reason: `the read pool of cluster ${c.Name} needs ${c.ReadSlots.length} server slots, HAProxy runs ${was.length} (ReadSlots)`, warn: c.ReadSlots.length > was.length };
    }
    for (const [i, slot] of c.ReadSlots.entries()) {
      const old = was[i]!;
      if (old.Ready === slot.Ready && (!slot.Ready || (old.Ip === slot.Ip && old.Port === slot.Port))) continue;
      if (slot.Ready && !isIP(slot.Ip)) return { reason: `replica ${slot.Ip} is not an IP address` };
      const bad = safe(['backend', readBackend(c.Name)], ['server', slot.Name], ['address', slot.Ip]);
      if (bad) return { reason: bad };
      slots.push({ cluster: c.Name, backend: readBackend(c.Name), server: slot.Name, ip: slot.Ip, port: slot.Port, ready: slot.Ready });
    }
  }
  if (switches.length === 0 && slots.length === 0) return { reason: 'nothing HAProxy runs can be changed live' };
  let runningText: string;
  try {
    runningText = input.render(withAddresses(input.data, previous));
  } catch {
    return { reason: 'the template does not render the previous state' };
  }
  if (runningText !== input.onDisk) return { reason: 'the configuration differs by more than the master addresses and read slots' };
  return { switches, slots };
}
