import type { Logger } from 'pino';
import type { ClusterState, MasterChange, TopologySnapshot } from '../../topology/types.js';
import type { Sink, SinkStatus } from '../types.js';
import { ConsulClient } from './client.js';
import { SERVICE_ID_PREFIX, serviceFor, serviceId, type ConsulSection } from './config.js';
import { agentRegistration, catalogRegistration, checkId } from './payload.js';

export interface ConsulSinkOptions {
  config: ConsulSection;
  clusterNames: string[];
  logger: Logger;
  /** True while at least one sentinel is alive; the TTL check fails when it is false. */
  sentinelsHealthy?: () => boolean;
}

interface Registered {
  ip: string;
  port: number;
}

interface AgentService {
  ID?: string;
  Service?: string;
  Address?: string;
  Port?: number;
}

interface CatalogEntry {
  Node?: string;
  ServiceID?: string;
  ServiceAddress?: string;
  ServicePort?: number;
}

export function createConsulSink(opts: ConsulSinkOptions): Sink {
  return new ConsulOutput(opts);
}

/**
 * One Consul service per cluster, pointing at the confirmed master. Registers only on a change
 * (or when a reconcile finds Consul differs), keeps a TTL check passing in agent mode, and
 * deregisters services of clusters no longer configured.
 */
class ConsulOutput implements Sink {
  readonly name = 'consul';
  private readonly cfg: ConsulSection;
  private readonly client: ConsulClient;
  private readonly log: Logger;
  private readonly clusterNames: string[];
  private readonly healthy: () => boolean;
  /** What Consul holds, as far as we know: only updated after Consul accepted it. */
  private readonly registered = new Map<string, Registered>();
  private latest: TopologySnapshot | null = null;
  private staleRemoved = false;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private ttlTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastAppliedAt: string | null = null;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  private lastRegisteredAt: string | null = null;
  private readonly counters = { registrations: 0, registrationFailures: 0, deregistrations: 0, reconcileDrifts: 0, ttlPasses: 0, ttlFailures: 0 };

  constructor(opts: ConsulSinkOptions) {
    this.cfg = opts.config;
    this.client = new ConsulClient(opts.config);
    this.log = opts.logger;
    this.clusterNames = opts.clusterNames;
    this.healthy = opts.sentinelsHealthy ?? (() => true);
  }

  async init(): Promise<void> {
    this.reconcileTimer = setInterval(() => void this.reconcile(), this.cfg.ReconcileIntervalMs);
    this.reconcileTimer.unref();
    if (this.cfg.Mode === 'agent' && this.cfg.TtlSeconds > 0) {
      this.ttlTimer = setInterval(() => void this.keepAlive(), Math.max(1000, (this.cfg.TtlSeconds * 1000) / 3));
      this.ttlTimer.unref();
    }
    this.log.info({ consul: this.client.address, mode: this.cfg.Mode, ttlSeconds: this.cfg.Mode === 'agent' ? this.cfg.TtlSeconds : 0 }, 'Consul output ready');
  }

  status(): SinkStatus {
    return {
      name: this.name,
      lastAppliedAt: this.lastAppliedAt,
      appliedVersion: null,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      details: { ...this.counters, mode: this.cfg.Mode, address: this.client.address, lastRegisteredAt: this.lastRegisteredAt, registered: Object.fromEntries(this.registered) },
    };
  }

  async apply(snapshot: TopologySnapshot, _changes: MasterChange[]): Promise<void> {
    this.latest = snapshot;
    const problems: string[] = [];
    if (!this.staleRemoved) {
      try {
        await this.removeStale();
        this.staleRemoved = true;
      } catch (err) {
        problems.push(`removing services of clusters no longer configured: ${(err as Error).message}`);
      }
    }
    for (const c of snapshot.clusters) {
      if (!c.master || this.closed) continue; // no confirmed master: keep whatever Consul has
      const have = this.registered.get(c.name);
      if (have && have.ip === c.master.ip && have.port === c.master.port) continue;
      try {
        // After a restart, check before writing: an identical entry needs no registration.
        if (!have && (await this.matches(c))) {
          this.registered.set(c.name, { ...c.master });
          continue;
        }
        await this.register(c);
      } catch (err) {
        problems.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) {
      this.lastError = problems.join('; ');
      this.lastErrorAt = new Date().toISOString();
      throw new Error(this.lastError);
    }
    this.lastError = null;
    this.lastAppliedAt = new Date().toISOString();
  }

  private async register(c: ClusterState): Promise<void> {
    const svc = serviceFor(this.cfg, c.name);
    try {
      if (this.cfg.Mode === 'agent') {
        await this.client.request('PUT', '/v1/agent/service/register', agentRegistration(this.cfg, c));
      } else {
        await this.guardAgentNode(svc.Node, svc.Datacenter);
        await this.client.request('PUT', '/v1/catalog/register', catalogRegistration(this.cfg, c));
      }
    } catch (err) {
      this.counters.registrationFailures++;
      throw err;
    }
    this.counters.registrations++;
    this.lastRegisteredAt = new Date().toISOString();
    this.registered.set(c.name, { ip: c.master!.ip, port: c.master!.port });
    this.log.info({ cluster: c.name, service: svc.ServiceName, id: serviceId(c.name), address: `${c.master!.ip}:${c.master!.port}`, mode: this.cfg.Mode }, 'Consul service registered');
  }

  /** Catalog mode must never rewrite a real agent's node (the original did): refuse nodes with serfHealth. */
  private async guardAgentNode(node: string, dc: string | undefined): Promise<void> {
    const { data } = await this.client.request<Array<{ CheckID?: string }>>('GET', `/v1/health/node/${encodeURIComponent(node)}${dc ? `?dc=${encodeURIComponent(dc)}` : ''}`);
    if (Array.isArray(data) && data.some((c) => c.CheckID === 'serfHealth')) {
      throw new Error(`node "${node}" is a Consul agent node; catalog mode only registers under external nodes (set Consul.Services[].Node to another name, or use Mode "agent")`);
    }
  }

  /** Does Consul already hold exactly this master for the cluster? */
  private async matches(c: ClusterState): Promise<boolean> {
    const current = await this.lookup(c.name);
    return current !== null && c.master !== null && current.ip === c.master.ip && current.port === c.master.port;
  }

  private async lookup(cluster: string): Promise<Registered | null> {
    const id = serviceId(cluster);
    if (this.cfg.Mode === 'agent') {
      const { data } = await this.client.request<AgentService>('GET', `/v1/agent/service/${encodeURIComponent(id)}`);
      return data && typeof data.Port === 'number' ? { ip: data.Address ?? '', port: data.Port } : null;
    }
    const svc = serviceFor(this.cfg, cluster);
    const { data } = await this.client.request<CatalogEntry[]>('GET', `/v1/catalog/service/${encodeURIComponent(svc.ServiceName)}${svc.Datacenter ? `?dc=${encodeURIComponent(svc.Datacenter)}` : ''}`);
    const entry = (data ?? []).find((e) => e.ServiceID === id && e.Node === svc.Node);
    return entry && typeof entry.ServicePort === 'number' ? { ip: entry.ServiceAddress ?? '', port: entry.ServicePort } : null;
  }

  /** Deregister redishappy services whose cluster is no longer configured (after SIGHUP or a restart). */
  private async removeStale(): Promise<void> {
    const keep = new Set(this.clusterNames.map(serviceId));
    if (this.cfg.Mode === 'agent') {
      const { data } = await this.client.request<Record<string, AgentService>>('GET', '/v1/agent/services');
      for (const id of Object.keys(data ?? {})) {
        if (!id.startsWith(SERVICE_ID_PREFIX) || keep.has(id)) continue;
        await this.client.request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
        this.counters.deregistrations++;
        this.log.info({ id }, 'Consul service of a cluster no longer configured deregistered');
      }
      return;
    }
    const { data: nodes } = await this.client.request<Array<{ Node: string; Datacenter?: string }>>('GET', '/v1/catalog/nodes?node-meta=external-node:true');
    for (const n of nodes ?? []) {
      const { data } = await this.client.request<{ Services?: Record<string, { ID: string }> }>('GET', `/v1/catalog/node/${encodeURIComponent(n.Node)}`);
      for (const id of Object.keys(data?.Services ?? {})) {
        if (!id.startsWith(SERVICE_ID_PREFIX) || keep.has(id)) continue;
        await this.client.request('PUT', '/v1/catalog/deregister', { Node: n.Node, ServiceID: id, ...(n.Datacenter ? { Datacenter: n.Datacenter } : {}) });
        this.counters.deregistrations++;
        this.log.info({ id, node: n.Node }, 'Consul service of a cluster no longer configured deregistered');
      }
    }
  }

  /** Periodic check that Consul still holds what we registered (entries can be removed behind our back). */
  private async reconcile(): Promise<void> {
    if (this.closed || !this.latest) return;
    for (const c of this.latest.clusters) {
      if (!c.master) continue;
      try {
        if (!this.registered.has(c.name)) {
          await this.register(c); // an earlier attempt failed, or the agent forgot the service
          continue;
        }
        if (await this.matches(c)) continue;
        this.counters.reconcileDrifts++;
        this.log.warn({ cluster: c.name }, 'Consul entry differs from the confirmed master (removed or changed elsewhere); registering again');
        this.registered.delete(c.name);
        await this.register(c);
      } catch (err) {
        this.lastError = `reconcile ${c.name}: ${(err as Error).message}`;
        this.lastErrorAt = new Date().toISOString();
        this.log.warn({ cluster: c.name, err: (err as Error).message }, 'Consul reconcile failed; will try again');
      }
    }
  }

  /** TTL check: passing while we have a live sentinel, failing (so DNS stops answering) when we lost them all. */
  private async keepAlive(): Promise<void> {
    if (this.closed) return;
    const healthy = this.healthy();
    for (const cluster of this.registered.keys()) {
      const verb = healthy ? 'pass' : 'fail';
      const note = healthy ? 'confirmed master' : 'redishappy has no live sentinel';
      try {
        await this.client.request('PUT', `/v1/agent/check/${verb}/${encodeURIComponent(checkId(cluster))}?note=${encodeURIComponent(note)}`);
        if (healthy) this.counters.ttlPasses++;
        else this.counters.ttlFailures++;
      } catch (err) {
        // The agent lost the check (agent restart): register again at the next reconcile.
        if ((err as { status?: number }).status === 404) this.registered.delete(cluster);
        this.log.warn({ cluster, err: (err as Error).message }, 'Consul TTL update failed');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    this.client.close();
  }
}
