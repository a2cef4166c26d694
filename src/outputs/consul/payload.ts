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

/** Body of PUT /v1/agent/service/register for a confirmed cluster. */
export function agentRegistration(section: ConsulSection, c: ClusterState): Record<string, unknown> {
  const master = confirmed(c);
  const svc = serviceFor(section, c.name);
  const body: Record<string, unknown> = {
    ID: serviceId(c.name),
    Name: svc.ServiceName,
    Tags: svc.Tags,
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
      Tags: svc.Tags,
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
    tags: svc.Tags,
    meta: metaFor(section, c),
    check: section.Mode === 'agent' && section.TtlSeconds > 0 ? checkNotes(section) : null,
    external: true,
  };
}
