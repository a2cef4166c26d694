import type { ClusterState } from '../../topology/types.js';
import { serviceFor, serviceId, type ConsulSection } from './config.js';

/** ESM's convention for nodes that are not Consul agents: anti-entropy leaves them alone. */
export const EXTERNAL_NODE_META = { 'external-node': 'true', 'external-probe': 'false' } as const;

/** The TTL check registered with the service (Consul's own default ID for a service's single check). */
export const checkId = (cluster: string) => `service:${serviceId(cluster)}`;

export const CHECK_NAME = 'redishappy: confirmed Redis master';

/** The check's Notes carry its settings, so a reconcile can tell a check registered with other settings. */
export function checkNotes(section: ConsulSection): string {
  const every = Math.round((section.TtlSeconds * 1000) / 3) / 1000;
  const after = section.DeregisterCriticalServiceAfter ? `; Consul deregisters the service after ${section.DeregisterCriticalServiceAfter} critical` : '';
  return `Passed by redishappy every ${every}s while it has a confirmed master and a live sentinel; critical when redishappy stopped or lost every sentinel (TTL ${section.TtlSeconds}s${after}).`;
}

function metaFor(section: ConsulSection, c: ClusterState): Record<string, string> {
  return {
    ...serviceFor(section, c.name).Meta,
    redishappy_cluster: c.name,
    config_epoch: String(c.configEpoch ?? 0),
    confirmed_at: c.confirmedAt ?? '',
  };
}

function confirmed(c: ClusterState): { ip: string; port: number } {
  if (!c.master) throw new Error(`cluster ${c.name} has no confirmed master`);
  return c.master;
}

/**
 * Tags of the master's entry: the configured ones, plus `master` for a cluster with a read
 * endpoint (its replicas are entries of the same service tagged `replica`, so
 * `master.<service>.service.consul` and `replica.<service>.service.consul` tell them apart).
 * Without a read endpoint the entry is the original's, unchanged.
 */
export function masterTags(svcTags: readonly string[], c: ClusterState): string[] {
  return c.externalReadPort && !svcTags.includes('master') ? [...svcTags, 'master'] : [...svcTags];
}

/** The replica entries a cluster wants: its serving replicas, with a read endpoint only. */
export interface ReplicaEntry {
  id: string;
  cluster: string;
  ip: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

/** A replica entry's ID: the cluster's service ID, then the replica's address. */
export const replicaId = (cluster: string, ip: string, port: number) => `${serviceId(cluster)}-replica-${ip}-${port}`;

export function replicaEntries(section: ConsulSection, c: ClusterState): ReplicaEntry[] {
  if (!c.master || !c.externalReadPort) return [];
  const svc = serviceFor(section, c.name);
  const tags = [...svc.Tags.filter((t) => t !== 'master'), 'replica'];
  return (c.replicas ?? []).map((r) => ({ id: replicaId(c.name, r.ip, r.port), cluster: c.name, ip: r.ip, port: r.port, tags, meta: { ...svc.Meta, redishappy_cluster: c.name, role: 'replica' } }));
}

export const replicaSignature = (e: ReplicaEntry) => JSON.stringify([e.ip, e.port, e.tags, Object.entries(e.meta).sort()]);

/** Body of PUT /v1/agent/service/register for a replica entry (no TTL check: see docs/read-endpoint.md). */
export function agentReplicaRegistration(section: ConsulSection, e: ReplicaEntry): Record<string, unknown> {
  return { ID: e.id, Name: serviceFor(section, e.cluster).ServiceName, Tags: e.tags, Address: e.ip, Port: e.port, Meta: e.meta };
}

/** Body of PUT /v1/catalog/register for a replica entry, on the cluster's node (whose Address stays the master's). */
export function catalogReplicaRegistration(section: ConsulSection, e: ReplicaEntry, master: { ip: string }): Record<string, unknown> {
  const svc = serviceFor(section, e.cluster);
  return {
    Node: svc.Node,
    Address: master.ip,
    ...(svc.Datacenter ? { Datacenter: svc.Datacenter } : {}),
    NodeMeta: { ...EXTERNAL_NODE_META },
    Service: { ID: e.id, Service: svc.ServiceName, Tags: e.tags, Address: e.ip, Port: e.port, Meta: e.meta },
  };
}

/** Body of PUT /v1/agent/service/register for a confirmed cluster. */
export function agentRegistration(section: ConsulSection, c: ClusterState): Record<string, unknown> {
  const master = confirmed(c);
  const svc = serviceFor(section, c.name);
  const body: Record<string, unknown> = {
    ID: serviceId(c.name),
    Name: svc.ServiceName,
    Tags: masterTags(svc.Tags, c),
    Address: master.ip,
    Port: master.port,
    Meta: metaFor(section, c),
  };
  if (section.TtlSeconds > 0) {
    body.Check = {
      CheckID: checkId(c.name),
      Name: CHECK_NAME,
      Notes: checkNotes(section),
      TTL: `${section.TtlSeconds}s`,
      // Registered passing: the master was just confirmed; otherwise DNS would skip it until the first pass.
      Status: 'passing',
      ...(section.DeregisterCriticalServiceAfter ? { DeregisterCriticalServiceAfter: section.DeregisterCriticalServiceAfter } : {}),
    };
  }
  return body;
}

/** Body of PUT /v1/catalog/register: an external service under a synthetic node (never an agent's node). */
export function catalogRegistration(section: ConsulSection, c: ClusterState): Record<string, unknown> {
  const master = confirmed(c);
  const svc = serviceFor(section, c.name);
  return {
    Node: svc.Node,
    Address: master.ip,
    ...(svc.Datacenter ? { Datacenter: svc.Datacenter } : {}),
    NodeMeta: { ...EXTERNAL_NODE_META },
    Service: {
      ID: serviceId(c.name),
      Service: svc.ServiceName,
      Tags: masterTags(svc.Tags, c),
      Address: master.ip,
      Port: master.port,
      Meta: metaFor(section, c),
    },
  };
}

/**
 * The parts of an entry redishappy compares to decide whether Consul holds what it wants.
 * `confirmed_at` is left out: it is the time this process confirmed the master, so it differs
 * after every restart while the entry is still right.
 */
export interface EntryView {
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  /** Agent mode: Notes of our TTL check, or null when there is none. Catalog mode: always null. */
  check: string | null;
  /** Catalog mode: the node carries external-node=true. Agent mode: always true. */
  external: boolean;
}

export function entrySignature(v: EntryView): string {
  const meta = Object.entries(v.meta)
    .filter(([k]) => k !== 'confirmed_at')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([v.name, v.address, v.port, v.tags, meta, v.check, v.external]);
}

/** What we want Consul to hold for a confirmed cluster. */
export function desiredView(section: ConsulSection, c: ClusterState): EntryView {
  const master = confirmed(c);
  const svc = serviceFor(section, c.name);
  return {
    name: svc.ServiceName,
    address: master.ip,
    port: master.port,
    tags: masterTags(svc.Tags, c),
    meta: metaFor(section, c),
    check: section.Mode === 'agent' && section.TtlSeconds > 0 ? checkNotes(section) : null,
    external: true,
  };
}
