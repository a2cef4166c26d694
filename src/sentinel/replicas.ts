import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { joinHostPort } from '../config/address.js';
import type { TopologyStore } from '../topology/store.js';
import { Coalescer } from './coalesce.js';
import type { MasterAddress } from '../topology/types.js';
import type { SentinelLink } from './link.js';
import type { ReplicaInfo } from './parse.js';
import { computeReadPool } from './read-pool.js';
import type { RolePoller } from './role-poller.js';
import type { RoleReport } from './role.js';

/**
 * The shell around the read pool (read-pool.ts decides): it keeps, per cluster, the replica list
 * each agreeing sentinel last gave and the confirmed master's last ROLE answer, asks for them
 * (a replica event from a sentinel, the discovery pace, a failover, the ROLE poll every
 * PollIntervalMs) and records the pool in the topology. Not part of the master decision.
 *
 * Only clusters with an ExternalReadPort get the ROLE poll (one kept connection and one command
 * per poll interval each): with a thousand clusters and no read port, the cost stays the replica
 * lists read at the discovery pace, as before. Those clusters' `.Replicas` are the sentinels'
 * healthy, linked replicas, without a lag measurement.
 */

export interface ReadPoolHost {
  /** Live sentinels whose current view names the cluster's confirmed master, best first. */
  agreeingLinks(name: string): SentinelLink[];
}

interface Listed {
  list: ReplicaInfo[];
  at: number;
  /** The confirmed master the list was asked about: a list of an older master is dropped. */
  master: string;
}

interface Measured {
  report: RoleReport;
  at: number;
  master: string;
  /** The master's offsets of the last few seconds, oldest first: where it was an acknowledgement ago. */
  history: Array<{ at: number; offset: number }>;
}

/**
 * Replicas acknowledge their offset once a second; two periods leave room for an acknowledgement
 * that comes late on a loaded host (one period was measured to flap a replica that kept up).
 */
const ACK_PERIOD_MS = 2000;

/** The master's offset at least one acknowledgement period before `now` (or the oldest known). */
export function offsetAckAgo(history: ReadonlyArray<{ at: number; offset: number }>, now: number): number | undefined {
  let ref: number | undefined = history[0]?.offset;
  for (const h of history) if (now - h.at >= ACK_PERIOD_MS) ref = h.offset;
  return ref;
}

const addr = (a: MasterAddress) => joinHostPort(a.ip, a.port);

function sameReplicas(a: readonly ReplicaInfo[], b: readonly ReplicaInfo[]): boolean {
  return a.length === b.length && a.every((r, i) => r.ip === b[i]!.ip && r.port === b[i]!.port && r.masterLinkStatus === b[i]!.masterLinkStatus && r.flags.join() === b[i]!.flags.join());
}

export class ReadPools {
  private readonly lists = new Map<string, Map<string, Listed>>();
  private readonly roles = new Map<string, Measured>();
  private readonly querying = new Coalescer();
  private timer: NodeJS.Timeout | null = null;
  private config!: Config;
  /** config.Clusters by name: asked per cluster at every discovery slice, a scan of 1,000 each time otherwise. */
  private byName = new Map<string, Config['Clusters'][number]>();

  constructor(
    config: Config,
    private readonly topology: TopologyStore,
    private readonly host: ReadPoolHost,
    private readonly poller: RolePoller,
    private readonly log: Logger,
  ) {
    this.setConfig(config);
  }

  private setConfig(config: Config): void {
    this.config = config;
    this.byName = new Map(config.Clusters.map((c) => [c.Name, c]));
  }

  start(): void {
    this.stopTimer();
    this.timer = setInterval(() => this.pollAll(), this.config.Watcher.PollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopTimer();
    this.poller.close();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  reconfigure(config: Config): void {
    this.setConfig(config);
    const names = new Set(config.Clusters.map((c) => c.Name));
    for (const name of [...this.lists.keys()]) if (!names.has(name)) this.lists.delete(name);
    for (const name of [...this.roles.keys()]) {
      if (!this.hasReadPort(name)) {
        this.roles.delete(name);
        this.poller.drop(name);
      }
    }
    if (this.timer) this.start();
    for (const name of names) this.recompute(name);
  }

  private cluster(name: string) {
    return this.byName.get(name);
  }

  private hasReadPort(name: string): boolean {
    return this.cluster(name)?.ExternalReadPort !== undefined;
  }

  /** At the discovery pace: this sentinel's lists of the clusters it agrees on (read clusters), or confirmed first (others). */
  afterDiscovery(link: SentinelLink, names: Iterable<string>): void {
    const mine = [...names].filter((name) => {
      const c = this.topology.get(name);
      if (!c?.master) return false;
      const agreeing = this.host.agreeingLinks(name);
      return this.hasReadPort(name) ? agreeing.includes(link) : agreeing[0] === link;
    });
    if (mine.length === 0) return;
    const masters = new Map(mine.map((n) => [n, this.topology.get(n)!.master!]));
    void link.queryReplicasMany(mine).then((lists) => {
      for (const [name, listed] of lists) this.store(name, link.sentinel, masters.get(name)!, listed);
    });
  }

  /** A new confirmed master: what was read about the old one no longer counts. */
  masterChanged(name: string): void {
    this.lists.delete(name);
    this.roles.delete(name);
    this.poller.drop(name);
    const links = this.host.agreeingLinks(name);
    // Read clusters combine every agreeing sentinel's list; the others keep the one list they had.
    for (const link of this.hasReadPort(name) ? links : links.slice(0, 1)) void this.query(name, link);
    void this.measure(name);
  }

  /**
   * A sentinel told of a replica (+sdown, -sdown, +slave, +convert-to-slave, +slave-reconf-done):
   * read its list again, and the master's ROLE, now rather than at the next discovery.
   */
  replicaEvent(link: SentinelLink, name: string): void {
    if (!this.topology.get(name)?.master) return;
    if (this.host.agreeingLinks(name).includes(link)) void this.query(name, link);
    void this.measure(name);
  }

  /** At most one query per cluster and sentinel in flight; events meanwhile ask for one more. */
  private async query(name: string, link: SentinelLink): Promise<void> {
    await this.querying.run(`${name} ${link.sentinel}`, async () => {
      const master = this.topology.get(name)?.master;
      if (!master) return false;
      const listed = await link.queryReplicas(name);
      if (listed) this.store(name, link.sentinel, master, listed);
    });
  }

  private store(name: string, sentinel: string, master: MasterAddress, list: ReplicaInfo[]): void {
    let lists = this.lists.get(name);
    if (!lists) this.lists.set(name, (lists = new Map()));
    const before = lists.get(sentinel);
    const now = Date.now();
    lists.set(sentinel, { list, at: now, master: addr(master) });
    // The same list again (the usual answer at the discovery pace) only makes it fresher: the pool
    // it gives is the one already recorded. Read clusters recompute at every ROLE poll anyway.
    // (A list that had aged out of the pool is counted again: recompute.)
    if (before && now - before.at <= this.listAge() && before.master === addr(master) && sameReplicas(before.list, list)) return;
    this.recompute(name);
  }

  /** A list not refreshed for a few discovery rounds no longer counts. */
  private listAge(): number {
    return this.config.Watcher.DiscoveryIntervalMs * 3;
  }

  private pollAll(): void {
    for (const c of this.config.Clusters) if (c.ExternalReadPort !== undefined) void this.measure(c.Name);
  }

  /** ROLE on the confirmed master (read clusters only). */
  private async measure(name: string): Promise<void> {
    if (!this.hasReadPort(name)) return;
    const master = this.topology.get(name)?.master;
    if (!master) return;
    const answer = await this.poller.poll(name, master);
    if (answer === null) return;
    const now = this.topology.get(name)?.master;
    if (!now || addr(now) !== addr(master)) return; // the master moved while we asked
    if ('error' in answer) {
      this.log.debug({ cluster: name, master: addr(master), err: answer.error }, 'ROLE on the confirmed master failed; replica lag not measured');
    } else {
      const now = Date.now();
      const before = this.roles.get(name);
      const history = before?.master === addr(master) ? before.history.filter((h) => now - h.at <= 5 * ACK_PERIOD_MS) : [];
      history.push({ at: now, offset: answer.offset });
      this.roles.set(name, { report: answer, at: now, master: addr(master), history });
    }
    this.recompute(name);
  }

  private recompute(name: string): void {
    const c = this.topology.get(name);
    const cfg = this.cluster(name);
    if (!c?.master || !cfg) return;
    const master = addr(c.master);
    const now = Date.now();
    // A list not refreshed for a few discovery rounds, or from a sentinel that no longer agrees
    // (down, or naming another master), does not count.
    const agreeing = new Set(this.host.agreeingLinks(name).map((l) => l.sentinel));
    const listAge = this.listAge();
    const lists = [...(this.lists.get(name) ?? new Map<string, Listed>())].filter(([s, l]) => agreeing.has(s) && l.master === master && now - l.at <= listAge).map(([, l]) => l.list);
    if (lists.length === 0 && !this.lists.has(name)) return; // nothing read yet: keep what there is
    const measuring = cfg.ExternalReadPort !== undefined;
    // Three missed polls and the lag is unknown: a replica then leaves rather than serve stale data.
    const roleAge = Math.max(3 * this.config.Watcher.PollIntervalMs, 3 * this.config.Watcher.CommandTimeoutMs);
    const measured = this.roles.get(name);
    const role = measured && measured.master === master && now - measured.at <= roleAge ? measured.report : null;
    const referenceOffset = role && measured ? offsetAckAgo(measured.history, now) : undefined;
    const pool = computeReadPool({ master: c.master, lists, role, referenceOffset, maxLagBytes: cfg.MaxReplicaLagBytes ?? this.config.Watcher.MaxReplicaLagBytes, measureLag: measuring });
    const before = c.replicas ?? [];
    if (this.topology.setReadPool(name, pool)) {
      this.log.info({ cluster: name, serving: pool.serving.map(addr), before: before.map(addr), out: pool.candidates.filter((r) => r.state === 'out').map((r) => `${addr(r)} ${r.reason}`) }, 'read pool changed');
    }
  }
}
