import type { Logger } from 'pino';
import type { ClusterState, MasterChange, TopologySnapshot } from '../../topology/types.js';
import type { FrontDoor, Output, OutputStatus } from '../types.js';
import type { MasterAddress } from '../../topology/types.js';
import { joinHostPort } from '../../config/address.js';
import { ConsulClient, ConsulHttpError, ConsulUnreachableError, consulBaseUrl } from './client.js';
import { serviceFor, serviceId, type ConsulSection } from './config.js';
import { agentRegistration, agentReplicaRegistration, catalogRegistration, catalogReplicaRegistration, checkId, desiredView, entrySignature, replicaEntries, replicaSignature, type EntryView, type ReplicaEntry } from './payload.js';
import { readEntries } from './read-back.js';
import { removeStale } from './stale.js';

export interface ConsulOutputOptions {
  config: ConsulSection;
  /** The configured clusters; services of other clusters with our ID prefix are deregistered. */
  clusterNames: string[];
  logger: Logger;
  /** True while at least one sentinel is alive; the TTL check is failed while it is false. */
  sentinelsHealthy?: () => boolean;
}

/** How many registrations run at once (a mass failover of many clusters). */
const PARALLEL = 8;

export function createConsulOutput(opts: ConsulOutputOptions): Output {
  return new ConsulOutput(opts);
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * One Consul service per configured cluster, pointing at its confirmed master.
 *
 * - Registers only when the wanted entry differs from what Consul last accepted from us, or when a
 *   read-back (first apply after start, periodic reconcile) finds Consul differs.
 * - Clusters without a confirmed master are left alone (Consul keeps the last one).
 * - Agent mode keeps a TTL check passing while a sentinel is alive.
 * - Deregisters services with our ID prefix whose cluster is no longer configured (first apply
 *   after a start or a SIGHUP, which creates a new output).
 * - apply throws when something failed; the runner retries it with backoff. Every HTTP call has a
 *   deadline; close() aborts calls in flight and stops the timers.
 * - Registration, reconcile and stale removal never interleave (one at a time), so a reconcile
 *   that read an older state can never overwrite a newer master.
 *
 * This class owns the life cycle and the decisions (what to register, when, one at a time); what
 * is sent is payload.ts's, reading Consul's side back is read-back.ts's, and the one-off cleanup
 * of services no configured cluster owns is stale.ts's.
 */
class ConsulOutput implements Output {
  readonly name = 'consul';
  private readonly cfg: ConsulSection;
  private clientInstance: ConsulClient | null = null;
  private readonly address: string;
  private readonly log: Logger;
  private readonly configured: Set<string>;
  private readonly healthy: () => boolean;
  /** Signature of what Consul accepted from us, per cluster (only set after a 2xx or a matching read-back). */
  private readonly registered = new Map<string, { signature: string; address: string }>();
  /** Replica entries Consul accepted from us: ID → signature, and where it is (for deregistering). */
  private readonly replicas = new Map<string, { signature: string; entry: ReplicaEntry }>();
  /** Catalog mode: nodes checked to have no agent ("dc|node"). */
  private readonly externalNodes = new Set<string>();
  private latest: TopologySnapshot | null = null;
  private staleRemoved = false;
  private chain: Promise<void> = Promise.resolve();
  private reconcileTimer: NodeJS.Timeout | null = null;
  private ttlTimer: NodeJS.Timeout | null = null;
  private reconcileRunning = false;
  private ttlRunning = false;
  private closed = false;
  private appliedVersion: number | null = null;
  private lastAppliedAt: string | null = null;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  private lastRegisteredAt: string | null = null;
  private lastReconcileAt: string | null = null;
  private readonly counters = { registrations: 0, registrationFailures: 0, deregistrations: 0, reconcileDrifts: 0, ttlPasses: 0, ttlFailures: 0, ttlErrors: 0, replicaRegistrations: 0, replicaDeregistrations: 0 };

  constructor(opts: ConsulOutputOptions) {
    this.cfg = opts.config;
    this.log = opts.logger;
    this.configured = new Set(opts.clusterNames);
    this.healthy = opts.sentinelsHealthy ?? (() => true);
    this.address = consulBaseUrl(opts.config).origin;
  }

  /** Created at init (an unreadable CaFile refuses start-up there), or at first use. */
  private get client(): ConsulClient {
    this.clientInstance ??= new ConsulClient(this.cfg);
    return this.clientInstance;
  }

  private get ttlOn(): boolean {
    return this.cfg.Mode === 'agent' && this.cfg.TtlSeconds > 0;
  }

  async init(): Promise<void> {
    void this.client; // reads CaFile now: an unreadable one refuses start-up
    this.reconcileTimer = setInterval(() => void this.reconcile(), this.cfg.ReconcileIntervalMs);
    this.reconcileTimer.unref();
    if (this.ttlOn) {
      this.ttlTimer = setInterval(() => void this.keepAlive(), Math.max(100, Math.floor((this.cfg.TtlSeconds * 1000) / 3)));
      this.ttlTimer.unref();
    }
    this.log.info({ consul: this.address, mode: this.cfg.Mode, ttlSeconds: this.ttlOn ? this.cfg.TtlSeconds : 0, reconcileIntervalMs: this.cfg.ReconcileIntervalMs }, 'Consul output ready');
  }

  status(): OutputStatus {
    return {
      name: this.name,
      lastAppliedAt: this.lastAppliedAt,
      appliedVersion: this.appliedVersion,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      details: {
        ...this.counters,
        mode: this.cfg.Mode,
        address: this.address,
        lastRegisteredAt: this.lastRegisteredAt,
        lastReconcileAt: this.lastReconcileAt,
        registered: Object.fromEntries([...this.registered].map(([cluster, r]) => [cluster, r.address])),
        registeredReplicas: [...this.replicas.values()].map((r) => `${r.entry.cluster} ${joinHostPort(r.entry.ip, r.entry.port)}`).sort(),
      },
    };
  }

  async apply(snapshot: TopologySnapshot, _changes: MasterChange[]): Promise<void> {
    this.latest = snapshot;
    try {
      await this.exclusive(() => this.sync(snapshot, false));
    } catch (err) {
      this.recordError(message(err));
      throw err;
    }
    this.lastError = null;
    this.appliedVersion = snapshot.version;
    this.lastAppliedAt = new Date().toISOString();
  }

  /** Clients find the master in Consul: verification reads each entry back and compares its address. */
  frontDoor(): FrontDoor {
    if (!this.cfg.Verify) return { kind: 'off', reason: 'Consul.Verify is false' };
    return {
      kind: 'registry',
      read: (clusters) => this.readBack(clusters),
      intervalMs: this.cfg.VerifyIntervalMs,
      retries: this.cfg.VerifyRetries,
    };
  }

  /** Verification found Consul names another address: the next apply registers these clusters again. */
  forget(clusters: readonly string[]): void {
    for (const c of clusters) this.registered.delete(c);
  }

  /** The address each cluster's entry names (null: no entry), read from the agent or the catalog. */
  private async readBack(clusters: readonly string[]): Promise<Map<string, MasterAddress | null>> {
    const states = (this.latest?.clusters ?? []).filter((c) => clusters.includes(c.name));
    const entries = await readEntries(this.client, this.cfg, states);
    return new Map([...entries].map(([name, e]) => [name, e ? { ip: e.address, port: e.port } : null]));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    this.reconcileTimer = this.ttlTimer = null;
    this.clientInstance?.close(); // aborts calls in flight: whatever waits on them ends now
    await this.chain;
  }

  /** Run fn after whatever sync is running (apply, reconcile): they never interleave. */
  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => {
      if (this.closed) throw new Error('the Consul output is closed');
      return fn();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private recordError(text: string): void {
    this.lastError = text;
    this.lastErrorAt = new Date().toISOString();
  }

  /**
   * Bring Consul to the snapshot. `readBack`: compare every confirmed cluster with what Consul
   * holds (reconcile); otherwise only clusters whose wanted entry differs from what Consul last
   * accepted, reading Consul first for those we have no record of (after a start: no duplicate).
   */
  private async sync(snapshot: TopologySnapshot, readBack: boolean): Promise<void> {
    const problems: string[] = [];
    if (!this.staleRemoved) {
      try {
        await removeStale({ client: this.client, cfg: this.cfg, configured: this.configured, logger: this.log, deregistered: () => this.counters.deregistrations++ });
        this.staleRemoved = true;
      } catch (err) {
        if (err instanceof ConsulUnreachableError) throw err;
        problems.push(`removing services of clusters no longer configured: ${message(err)}`);
      }
    }
    const confirmed = snapshot.clusters.filter((c) => c.master && this.configured.has(c.name));
    const wanted = new Map(confirmed.map((c) => [c.name, entrySignature(desiredView(this.cfg, c))]));
    const todo = readBack ? confirmed : confirmed.filter((c) => this.registered.get(c.name)?.signature !== wanted.get(c.name));
    if (todo.length > 0) {
      const unknown = readBack ? todo : todo.filter((c) => !this.registered.has(c.name));
      const current = unknown.length > 0 ? await readEntries(this.client, this.cfg, unknown) : new Map<string, EntryView | null>();
      const register: ClusterState[] = [];
      for (const c of todo) {
        const want = wanted.get(c.name)!;
        if (current.has(c.name)) {
          const have = current.get(c.name) ?? null;
          if (have && entrySignature(have) === want) {
            this.registered.set(c.name, { signature: want, address: joinHostPort(c.master!.ip, c.master!.port) });
            continue;
          }
          if (readBack && this.registered.get(c.name)?.signature === want) {
            this.counters.reconcileDrifts++;
            this.externalNodes.clear(); // a catalog entry that vanished may sit on a node that has an agent after all
            this.log.warn({ cluster: c.name, consul: have ? `${have.address}:${have.port}` : 'missing' }, 'Consul entry differs from the confirmed master (removed or changed elsewhere); registering again');
          }
        }
        register.push(c);
      }
      problems.push(...(await this.registerAll(register)));
    }
    problems.push(...(await this.syncReplicas(confirmed)));
    if (problems.length > 0) throw new Error(problems.join('; '));
  }

  /**
   * Replica entries (clusters with a read endpoint): register the serving replicas Consul lacks,
   * deregister the ones that left the pool. Entries a previous run left are removed by the stale
   * cleanup at the first apply (their IDs name no configured cluster) and registered again here.
   */
  private async syncReplicas(confirmed: ClusterState[]): Promise<string[]> {
    const problems: string[] = [];
    const wanted = new Map<string, ReplicaEntry>();
    const masters = new Map<string, ClusterState>();
    for (const c of confirmed) {
      masters.set(c.name, c);
      for (const e of replicaEntries(this.cfg, c)) wanted.set(e.id, e);
    }
    for (const [id, e] of wanted) {
      if (this.replicas.get(id)?.signature === replicaSignature(e)) continue;
      try {
        if (this.cfg.Mode === 'agent') await this.client.request('PUT', '/v1/agent/service/register', { body: agentReplicaRegistration(this.cfg, e) });
        else await this.client.request('PUT', '/v1/catalog/register', { body: catalogReplicaRegistration(this.cfg, e, masters.get(e.cluster)!.master!) });
        this.replicas.set(id, { signature: replicaSignature(e), entry: e });
        this.counters.replicaRegistrations++;
        this.log.info({ cluster: e.cluster, id, address: joinHostPort(e.ip, e.port) }, 'Consul replica entry registered');
      } catch (err) {
        if (err instanceof ConsulUnreachableError) throw err;
        problems.push(`replica ${id}: ${message(err)}`);
      }
    }
    for (const [id, r] of [...this.replicas]) {
      if (wanted.has(id)) continue;
      try {
        if (this.cfg.Mode === 'agent') await this.client.request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`, { allow404: true });
        else {
          const svc = serviceFor(this.cfg, r.entry.cluster);
          await this.client.request('PUT', '/v1/catalog/deregister', { body: { Node: svc.Node, ServiceID: id, ...(svc.Datacenter ? { Datacenter: svc.Datacenter } : {}) } });
        }
        this.replicas.delete(id);
        this.counters.replicaDeregistrations++;
        this.log.info({ cluster: r.entry.cluster, id }, 'Consul replica entry deregistered (left the read pool)');
      } catch (err) {
        if (err instanceof ConsulUnreachableError) throw err;
        problems.push(`replica ${id}: ${message(err)}`);
      }
    }
    return problems;
  }

  /** Register clusters, PARALLEL at a time; stop starting new ones once Consul is unreachable. */
  private async registerAll(clusters: ClusterState[]): Promise<string[]> {
    const problems: string[] = [];
    let unreachable: Error | null = null;
    let next = 0;
    const worker = async () => {
      while (next < clusters.length && !unreachable && !this.closed) {
        const c = clusters[next++]!;
        try {
          await this.register(c);
        } catch (err) {
          if (err instanceof ConsulUnreachableError) unreachable = err;
          else problems.push(`${c.name}: ${message(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, clusters.length) }, worker));
    if (unreachable) throw unreachable;
    return problems;
  }

  private async register(c: ClusterState): Promise<void> {
    const svc = serviceFor(this.cfg, c.name);
    const master = c.master!;
    try {
      if (this.cfg.Mode === 'agent') {
        // replace-existing-checks: a check left from other settings (TtlSeconds 0 now) goes away.
        await this.client.request('PUT', '/v1/agent/service/register', { body: agentRegistration(this.cfg, c), query: { 'replace-existing-checks': 'true' } });
      } else {
        await this.guardExternalNode(svc.Node, svc.Datacenter);
        await this.client.request('PUT', '/v1/catalog/register', { body: catalogRegistration(this.cfg, c) });
      }
    } catch (err) {
      this.counters.registrationFailures++;
      throw err;
    }
    this.counters.registrations++;
    this.lastRegisteredAt = new Date().toISOString();
    this.registered.set(c.name, { signature: entrySignature(desiredView(this.cfg, c)), address: joinHostPort(master.ip, master.port) });
    this.log.info({ cluster: c.name, service: svc.ServiceName, id: serviceId(c.name), address: joinHostPort(master.ip, master.port), mode: this.cfg.Mode, ...(this.cfg.Mode === 'catalog' ? { node: svc.Node } : {}) }, 'Consul service registered');
  }

  /** Catalog mode never writes to a node that runs an agent (the original did: anti-entropy removed the entry and the node's address was rewritten). */
  private async guardExternalNode(node: string, dc: string | undefined): Promise<void> {
    const key = `${dc ?? ''}|${node}`;
    if (this.externalNodes.has(key)) return;
    const { data } = await this.client.request<Array<{ CheckID?: string }>>('GET', `/v1/health/node/${encodeURIComponent(node)}`, { query: { dc } });
    if (Array.isArray(data) && data.some((ch) => ch.CheckID === 'serfHealth')) {
      throw new Error(`node "${node}" runs a Consul agent; catalog mode registers under external nodes only (its anti-entropy would remove the entry): choose another Consul.Services[].Node, or use Mode "agent"`);
    }
    this.externalNodes.add(key);
  }

  /** Periodic read-back: re-register what Consul lost or holds differently (agent restarted, entry removed or edited elsewhere). */
  private async reconcile(): Promise<void> {
    if (this.closed || !this.latest || this.reconcileRunning) return;
    this.reconcileRunning = true;
    const snapshot = this.latest;
    try {
      // Read the latest snapshot inside the lock: an apply queued before us has already run.
      await this.exclusive(() => this.sync(this.latest ?? snapshot, true));
      this.lastReconcileAt = new Date().toISOString();
      this.lastError = null;
    } catch (err) {
      if (this.closed) return;
      this.recordError(`reconcile: ${message(err)}`);
      this.log.warn({ err: message(err) }, 'Consul reconcile failed; will try again');
    } finally {
      this.reconcileRunning = false;
    }
  }

  /** TTL check: passing while a sentinel is alive, failing (DNS stops answering) when redishappy lost them all. */
  private async keepAlive(): Promise<void> {
    if (this.closed || this.ttlRunning || this.registered.size === 0) return;
    this.ttlRunning = true;
    const healthy = this.healthy();
    const verb = healthy ? 'pass' : 'fail';
    const note = healthy ? 'redishappy: confirmed master, sentinels reachable' : 'redishappy has no live sentinel: the master is not watched';
    let lost = false;
    try {
      for (const cluster of [...this.registered.keys()]) {
        if (this.closed) return;
        try {
          await this.client.request('PUT', `/v1/agent/check/${verb}/${encodeURIComponent(checkId(cluster))}`, { query: { note } });
          if (healthy) this.counters.ttlPasses++;
          else this.counters.ttlFailures++;
        } catch (err) {
          this.counters.ttlErrors++;
          if (this.closed) return;
          // The agent does not know the check (service removed, agent state lost): register again.
          if (err instanceof ConsulHttpError && (err.status === 404 || /unknown check|does not have associated TTL/i.test(err.body))) {
            this.registered.delete(cluster);
            lost = true;
          }
          this.log.warn({ cluster, err: message(err) }, 'Consul TTL check update failed');
          if (err instanceof ConsulUnreachableError) break;
        }
      }
    } finally {
      this.ttlRunning = false;
    }
    if (lost) void this.reconcile();
  }
}
