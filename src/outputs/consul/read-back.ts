import type { ClusterState } from '../../topology/types.js';
import { ConsulHttpError, type ConsulClient } from './client.js';
import { serviceFor, serviceId, type ConsulSection } from './config.js';
import { checkId, desiredView, type EntryView } from './payload.js';

/**
 * What Consul holds for our services, in the same shape as what we want (payload.ts's EntryView),
 * so the output compares the two with one signature. Only reads: deciding what to register from
 * the difference is the output's job.
 */

/** An entry of GET /v1/agent/services (the fields we compare). */
export interface AgentService {
  ID?: string;
  Service?: string;
  Address?: string;
  Port?: number;
  Tags?: string[] | null;
  Meta?: Record<string, string> | null;
}

interface AgentCheck {
  CheckID?: string;
  ServiceID?: string;
  Notes?: string;
}

/** An entry of GET /v1/catalog/service/:name. */
export interface CatalogServiceEntry {
  Node?: string;
  Datacenter?: string;
  NodeMeta?: Record<string, string> | null;
  ServiceID?: string;
  ServiceName?: string;
  ServiceAddress?: string;
  ServicePort?: number;
  ServiceTags?: string[] | null;
  ServiceMeta?: Record<string, string> | null;
}

/** What Consul holds for these clusters (null = no entry), in as few calls as the API allows. */
export async function readEntries(client: ConsulClient, cfg: ConsulSection, clusters: ClusterState[]): Promise<Map<string, EntryView | null>> {
  const out = new Map<string, EntryView | null>();
  if (cfg.Mode === 'agent') {
    const [{ data: services }, checks] = await Promise.all([
      client.request<Record<string, AgentService>>('GET', '/v1/agent/services'),
      // A token allowed to read services but not checks: compare the service only.
      client.request<Record<string, AgentCheck>>('GET', '/v1/agent/checks').then(
        (r) => r.data ?? {},
        (err: unknown) => {
          if (err instanceof ConsulHttpError && err.status === 403) return null;
          throw err;
        },
      ),
    ]);
    for (const c of clusters) {
      const s = services?.[serviceId(c.name)];
      if (!s || typeof s.Port !== 'number') {
        out.set(c.name, null);
        continue;
      }
      const check = checks === null ? desiredView(cfg, c).check : (checks[checkId(c.name)]?.Notes ?? (checks[checkId(c.name)] ? '' : null));
      out.set(c.name, { name: s.Service ?? '', address: s.Address ?? '', port: s.Port, tags: s.Tags ?? [], meta: s.Meta ?? {}, check, external: true });
    }
    return out;
  }
  // Catalog: one read per (service name, datacenter).
  const groups = new Map<string, ClusterState[]>();
  for (const c of clusters) {
    const svc = serviceFor(cfg, c.name);
    const key = JSON.stringify([svc.ServiceName, svc.Datacenter ?? null]);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [key, members] of groups) {
    const [name, dc] = JSON.parse(key) as [string, string | null];
    const { data } = await client.request<CatalogServiceEntry[]>('GET', `/v1/catalog/service/${encodeURIComponent(name)}`, { query: { dc: dc ?? undefined } });
    for (const c of members) {
      const node = serviceFor(cfg, c.name).Node;
      const e = (data ?? []).find((x) => x.ServiceID === serviceId(c.name) && x.Node === node);
      out.set(
        c.name,
        e && typeof e.ServicePort === 'number'
          ? { name: e.ServiceName ?? '', address: e.ServiceAddress ?? '', port: e.ServicePort, tags: e.ServiceTags ?? [], meta: e.ServiceMeta ?? {}, check: null, external: e.NodeMeta?.['external-node'] === 'true' }
          : null,
      );
    }
  }
  return out;
}
