import type { ClusterDefinition } from '../topology/store.js';
import type { BaseConfig } from './schema.js';

/** What the topology keeps of each configured cluster: its ports and read fallback, defaults resolved. */
export function clusterDefinitions(config: BaseConfig): ClusterDefinition[] {
  return config.Clusters.map((c) => ({
    name: c.Name,
    externalPort: c.ExternalPort,
    externalReadPort: c.ExternalReadPort ?? null,
    readFallbackToMaster: c.ReadFallbackToMaster ?? config.ReadFallbackToMaster,
  }));
}
