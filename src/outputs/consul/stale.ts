import type { Logger } from 'pino';
import type { ConsulClient } from './client.js';
import { SERVICE_ID_PREFIX, serviceFor, type ConsulSection } from './config.js';
import type { AgentService, CatalogServiceEntry } from './read-back.js';

/**
 * Cleaning up after a config change: a service with our ID prefix that no configured cluster owns
 * (the cluster was removed, or its catalog node changed) would keep sending clients to an old
 * master nobody watches any more. Runs once per output (after a start or a SIGHUP, which creates
 * a new output); apart from the output because it looks at every service, not at our clusters.
 */

export interface RemoveStaleOptions {
  client: ConsulClient;
  cfg: ConsulSection;
  /** The configured clusters: their services stay (on their configured node, in catalog mode). */
  configured: ReadonlySet<string>;
  logger: Logger;
  /** Called after each deregistration Consul accepted (the output's counter), even if a later one fails. */
  deregistered: () => void;
}

/** Deregister services with our ID prefix that no configured cluster owns (cluster removed, or its catalog node changed). */
export async function removeStale({ client, cfg, configured, logger: log, deregistered }: RemoveStaleOptions): Promise<void> {
  if (cfg.Mode === 'agent') {
    const { data } = await client.request<Record<string, AgentService>>('GET', '/v1/agent/services');
    for (const id of Object.keys(data ?? {})) {
      if (!id.startsWith(SERVICE_ID_PREFIX) || configured.has(id.slice(SERVICE_ID_PREFIX.length))) continue;
      await client.request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`, { allow404: true });
      deregistered();
      log.info({ id }, 'Consul service of a cluster no longer configured deregistered');
    }
    return;
  }
  // Catalog: look in every datacenter we register in, at services on external nodes.
  const dcs = new Set<string | undefined>([...configured].map((c) => serviceFor(cfg, c).Datacenter));
  if (dcs.size === 0) dcs.add(undefined);
  const done = new Set<string>();
  for (const dc of dcs) {
    const { data: names } = await client.request<Record<string, string[]>>('GET', '/v1/catalog/services', { query: { dc, 'node-meta': 'external-node:true' } });
    for (const name of Object.keys(names ?? {})) {
      const { data: entries } = await client.request<CatalogServiceEntry[]>('GET', `/v1/catalog/service/${encodeURIComponent(name)}`, { query: { dc } });
      for (const e of entries ?? []) {
        const id = e.ServiceID ?? '';
        if (!id.startsWith(SERVICE_ID_PREFIX) || !e.Node || e.NodeMeta?.['external-node'] !== 'true') continue;
        const cluster = id.slice(SERVICE_ID_PREFIX.length);
        if (configured.has(cluster) && serviceFor(cfg, cluster).Node === e.Node) continue;
        const key = `${e.Datacenter ?? dc ?? ''}|${e.Node}|${id}`;
        if (done.has(key)) continue;
        done.add(key);
        await client.request('PUT', '/v1/catalog/deregister', { body: { Node: e.Node, ServiceID: id, ...((e.Datacenter ?? dc) ? { Datacenter: e.Datacenter ?? dc } : {}) } });
        deregistered();
        log.info({ id, node: e.Node, datacenter: e.Datacenter ?? dc }, configured.has(cluster) ? 'Consul service on a node no longer configured for its cluster deregistered' : 'Consul service of a cluster no longer configured deregistered');
      }
    }
  }
}
