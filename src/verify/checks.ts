import type { ConnectionOptions } from 'node:tls';
import { joinHostPort } from '../config/address.js';
import type { ConnectSettings } from '../sentinel/connection.js';
import type { ClusterState, MasterAddress } from '../topology/types.js';
import type { ProxyDoor, RegistryDoor } from '../outputs/types.js';
import { askIdentity } from './ask.js';
import { applyAgainMayHelp, doorFailed, doorRefused, judgeDoor, judgeEntry, judgeReadDoor, readExpectation, type KnownInstance } from './judge.js';
import { forEachLimited } from './pool.js';
import type { Failure, Identity, Verdict } from './types.js';

/**
 * One small function per kind of door: check a batch of clusters, give a verdict per cluster:
 * a proxy's write door (the confirmed master), its read door (the read pool), a registry entry.
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
  /** run_id of each read pool member, asked directly; asked again when a read door answers another one. */
  replicas?: InstanceIdentities;
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

/**
 * run_ids of instances asked directly (the read pool's members), per cluster and address. A read
 * door whose run_id is a cached member's costs no more connection; any other answer makes every
 * member be asked again (a restarted replica has a new run_id) before it is judged.
 */
export class InstanceIdentities {
  private known = new Map<string, string>();

  constructor(private readonly access: InstanceAccess) {}

  private static key(cluster: string, address: string): string {
    return `${cluster} ${address}`;
  }

  /** The member whose cached run_id the door answered with, if any. */
  cachedMatch(cluster: string, members: readonly string[], door: Identity): KnownInstance | undefined {
    if (door.runId === '') return undefined;
    const address = members.find((m) => this.known.get(InstanceIdentities.key(cluster, m)) === door.runId);
    return address === undefined ? undefined : { address, identity: { runId: door.runId, role: 'slave', tcpPort: null } };
  }

  /** Ask each member (at once), remembering the run_ids. */
  async ask(cluster: string, members: readonly string[], addresses: ReadonlyMap<string, MasterAddress>): Promise<KnownInstance[]> {
    return Promise.all(
      members.map(async (address): Promise<KnownInstance> => {
        const at = addresses.get(address);
        const identity: Identity | Failure = at ? await askIdentity(at.ip, at.port, this.access.settings(cluster), this.access.tls) : { error: 'not in the topology' };
        if ('runId' in identity && identity.runId !== '') this.known.set(InstanceIdentities.key(cluster, address), identity.runId);
        else this.known.delete(InstanceIdentities.key(cluster, address));
        return { address, identity };
      }),
    );
  }

  /** Forget instances that are no longer members (keeps the map as small as the pools). */
  keepOnly(wanted: ReadonlyMap<string, readonly string[]>): void {
    const keys = new Set([...wanted].flatMap(([cluster, members]) => members.map((m) => InstanceIdentities.key(cluster, m))));
    for (const key of [...this.known.keys()]) if (!keys.has(key)) this.known.delete(key);
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
      // Nothing listens at the door: the verdict is that, whatever the master says, and applying
      // again cannot help; asking the master too would double the cost of every such check.
      if ('error' in reached && doorRefused(reached)) {
        out.set(c.name, { ...doorFailed(reached), applyAgain: false });
        return;
      }
      const master = await ctx.masters.of(c.name, c.master, reached);
      const verdict = judgeDoor(reached, master);
      out.set(c.name, verdict.state === 'unreachable' && !applyAgainMayHelp(reached, master) ? { ...verdict, applyAgain: false } : verdict);
    },
    { gapMs: ctx.gapMs ?? 0, stopped: ctx.stopped },
  );
  return out;
}

/** Where a proxy's read door is for a cluster: the door's host, the cluster's ExternalReadPort. */
export function readDoorAddress(door: ProxyDoor, cluster: ClusterState): { host: string; port: number } {
  return { host: door.host, port: cluster.externalReadPort ?? 0 };
}

/**
 * A new connection through each cluster's read door, judged against the read pool (judgeReadDoor).
 * One connection per round: the proxy balances new connections over the pool, so each lands on
 * some member and a member that should not be there is met within a few rounds. Steady state
 * costs that one connection (the member's run_id is cached); the members and the master are
 * asked directly only when the door answers something not cached.
 */
export async function checkReadProxy(door: ProxyDoor, clusters: readonly ClusterState[], ctx: CheckContext): Promise<Map<string, Verdict>> {
  const out = new Map<string, Verdict>();
  const tls = (door.tls ?? ctx.access.tls !== undefined) ? (ctx.access.tls ?? {}) : undefined;
  const replicas = ctx.replicas ?? new InstanceIdentities(ctx.access);
  await forEachLimited(
    clusters,
    ctx.parallel,
    async (c) => {
      const expected = readExpectation(c);
      if (!expected || !c.master) return;
      const { host, port } = readDoorAddress(door, c);
      const reached = await askIdentity(host, port, ctx.access.settings(c.name), tls);
      if ('error' in reached) {
        out.set(c.name, judgeReadDoor(reached, expected, []));
        return;
      }
      const hit = replicas.cachedMatch(c.name, expected.members, reached);
      if (hit) {
        out.set(c.name, judgeReadDoor(reached, expected, [hit]));
        return;
      }
      const addresses = new Map<string, MasterAddress>([...(c.readPool?.serving ?? []), c.master].map((a) => [joinHostPort(a.ip, a.port), a] as const));
      const members = expected.members.length > 0 ? await replicas.ask(c.name, expected.members, addresses) : [];
      // The master, to name it when reached while it should not be (replicas serve, or none may).
      const others: KnownInstance[] = expected.target === 'master' ? [] : [{ address: joinHostPort(c.master.ip, c.master.port), identity: await ctx.masters.of(c.name, c.master, reached) }];
      out.set(c.name, judgeReadDoor(reached, expected, members, others));
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
