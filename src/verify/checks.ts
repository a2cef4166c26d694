import type { ConnectionOptions } from 'node:tls';
import { joinHostPort } from '../config/address.js';
import type { ConnectSettings } from '../sentinel/connection.js';
import type { ClusterState, MasterAddress } from '../topology/types.js';
import type { ProxyDoor, RegistryDoor } from '../outputs/types.js';
import { askIdentity } from './ask.js';
import { judgeDoor, judgeEntry } from './judge.js';
import { forEachLimited } from './pool.js';
import type { Identity, Verdict } from './types.js';

/**
 * One small function per kind of door: check a batch of clusters, give a verdict per cluster. A
 * new kind (a read port: a connection through it must reach a serving replica) is one more
 * function here and one more member of FrontDoor.
 */

/** How to talk to a cluster's instances: the ROLE probe's credentials, and TLS material. */
export interface InstanceAccess {
  settings(cluster: string): ConnectSettings;
  /** TLS options for the instances (the top-level Tls section), undefined when it is not set. */
  tls: ConnectionOptions | undefined;
}

export interface CheckContext {
  access: InstanceAccess;
  /** run_id of each confirmed master, asked directly; refreshed when a door answers another one. */
  masters: MasterIdentities;
  parallel: number;
  gapMs?: number;
  stopped(): boolean;
}

/** The confirmed master's run_id, asked of the master itself with the probe's credentials. */
export class MasterIdentities {
  private known = new Map<string, string>();

  constructor(private readonly access: InstanceAccess) {}

  /** The cached identity when `door` matches it; otherwise asked again (a restarted master has a new run_id). */
  async of(cluster: string, master: MasterAddress, door: Identity | { error: string }): Promise<Identity | { error: string }> {
    const key = `${cluster} ${joinHostPort(master.ip, master.port)}`;
    const cached = this.known.get(key);
    if (cached !== undefined && 'runId' in door && door.runId === cached) return { runId: cached, role: 'master', tcpPort: master.port };
    const asked = await askIdentity(master.ip, master.port, this.access.settings(cluster), this.access.tls);
    if ('runId' in asked && asked.runId !== '') this.known.set(key, asked.runId);
    return asked;
  }

  /** Forget masters no longer confirmed (keeps the map as small as the topology). */
  keepOnly(clusters: readonly ClusterState[]): void {
    const wanted = new Set(clusters.filter((c) => c.master).map((c) => `${c.name} ${joinHostPort(c.master!.ip, c.master!.port)}`));
    for (const key of [...this.known.keys()]) if (!wanted.has(key)) this.known.delete(key);
  }
}

/** Where a proxy door is for a cluster. */
export function doorAddress(door: ProxyDoor, cluster: ClusterState): { host: string; port: number } {
  return { host: door.host, port: door.ports[cluster.name] ?? cluster.externalPort };
}

/** A new connection through the proxy per cluster, compared with the master asked directly. */
export async function checkProxy(door: ProxyDoor, clusters: readonly ClusterState[], ctx: CheckContext): Promise<Map<string, Verdict>> {
  const out = new Map<string, Verdict>();
  const tls = (door.tls ?? ctx.access.tls !== undefined) ? (ctx.access.tls ?? {}) : undefined;
  await forEachLimited(
    clusters,
    ctx.parallel,
    async (c) => {
      if (!c.master) return;
      const { host, port } = doorAddress(door, c);
      const reached = await askIdentity(host, port, ctx.access.settings(c.name), tls);
      // A door that did not answer is unreachable whoever the master is: asking the master too would
      // double the cost of every check of a door that is down (a connection each, for nothing).
      if ('error' in reached) return void out.set(c.name, judgeDoor(reached, { error: 'not asked' }));
      const master = await ctx.masters.of(c.name, c.master, reached);
      out.set(c.name, judgeDoor(reached, master));
    },
    { gapMs: ctx.gapMs ?? 0, stopped: ctx.stopped },
  );
  return out;
}

/** One read of the registry for the whole batch, each entry compared with the confirmed master. */
export async function checkRegistry(door: RegistryDoor, clusters: readonly ClusterState[]): Promise<Map<string, Verdict>> {
  const confirmed = clusters.filter((c) => c.master);
  let entries: Map<string, MasterAddress | null> | { error: string };
  try {
    entries = await door.read(confirmed.map((c) => c.name));
  } catch (err) {
    entries = { error: (err as Error).message };
  }
  const out = new Map<string, Verdict>();
  for (const c of confirmed) out.set(c.name, judgeEntry(entries instanceof Map ? (entries.get(c.name) ?? null) : entries, c.master!));
  return out;
}
