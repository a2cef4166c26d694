import type { ClusterState } from '../../topology/types.js';
import { serviceFor, serviceId, type ConsulSection } from './config.js';

/** ESM's convention for nodes that are not Consul agents: anti-entropy leaves them alone. */
export const EXTERNAL_NODE_META = { 'external-node': 'true', 'external-probe': 'false' } as const;

export const checkId = (cluster: string) => `service:${serviceId(cluster)}`;

function metaFor(section: ConsulSection, c: ClusterState): Record<string, string> {
  return {
    ...serviceFor(section, c.name).Meta,
    redishappy_cluster: c.name,
    config_epoch: String(c.configEpoch ?? 0),
    confirmed_at: c.confirmedAt ?? '',
  };
}

/** PUT /v1/agent/service/register body for a confirmed cluster. */
export function agentRegistration(section: ConsulSection, c: ClusterState): Record<string, unknown> {
  if (!c.master) throw new Error(`cluster ${c.name} has no confirmed master`);
  const svc = serviceFor(section, c.name);
  const body: Record<string, unknown> = {
    ID: serviceId(c.name),
    Name: svc.ServiceName,
    Tags: svc.Tags,
    Address: c.master.ip,
    Port: c.master.port,
    Meta: metaFor(section, c),
  };
  if (section.TtlSeconds > 0) {
    body.Check = {
      CheckID: checkId(c.name),
      Name: 'redishappy: confirmed Redis master',
      Notes: 'Passed by redishappy while it has a confirmed master and a live sentinel.',
      TTL: `${section.TtlSeconds}s`,
      Status: 'passing',
      ...(section.DeregisterCriticalServiceAfter ? { DeregisterCriticalServiceAfter: section.DeregisterCriticalServiceAfter } : {}),
    };
  }
  return body;
}

/** PUT /v1/catalog/register body: an external service under a synthetic node. */
export function catalogRegistration(section: ConsulSection, c: ClusterState): Record<string, unknown> {
  if (!c.master) throw new Error(`cluster ${c.name} has no confirmed master`);
  const svc = serviceFor(section, c.name);
  return {
    Node: svc.Node,
    Address: c.master.ip,
    ...(svc.Datacenter ? { Datacenter: svc.Datacenter } : {}),
    NodeMeta: { ...EXTERNAL_NODE_META },
    Service: {
      ID: serviceId(c.name),
      Service: svc.ServiceName,
      Tags: svc.Tags,
      Address: c.master.ip,
      Port: c.master.port,
      Meta: metaFor(section, c),
    },
  };
}
