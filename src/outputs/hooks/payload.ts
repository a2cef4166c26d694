import { randomUUID } from 'node:crypto';
import { joinHostPort } from '../../config/address.js';
import type { MasterChange, TopologySnapshot } from '../../topology/types.js';

/** What a hook receives: the change plus the whole current topology. */
export interface HookEvent {
  event: 'master-changed';
  deliveryId: string;
  cluster: string;
  previous: { ip: string; port: number } | null;
  current: { ip: string; port: number };
  configEpoch: number | null;
  confirmedAt: string;
  announcedAt: string | null;
  /**
   * The changed cluster's read endpoint: its port (null when none) and the replicas serving
   * reads now (every cluster's full read pool, with lags and reasons, is in `topology`).
   */
  read: { externalReadPort: number | null; serving: Array<{ ip: string; port: number }> };
  topology: TopologySnapshot;
}

export function hookEvent(change: MasterChange, snapshot: TopologySnapshot): HookEvent {
  return {
    event: 'master-changed',
    deliveryId: randomUUID(),
    cluster: change.cluster,
    previous: change.previous,
    current: change.current,
    configEpoch: change.configEpoch,
    confirmedAt: change.confirmedAt,
    announcedAt: change.announcedAt === null ? null : new Date(change.announcedAt).toISOString(),
    read: readOf(snapshot, change.cluster),
    topology: snapshot,
  };
}

function readOf(snapshot: TopologySnapshot, cluster: string): HookEvent['read'] {
  const c = snapshot.clusters.find((x) => x.name === cluster);
  return { externalReadPort: c?.externalReadPort ?? null, serving: (c?.replicas ?? []).map((r) => ({ ip: r.ip, port: r.port })) };
}

/** The same facts as environment variables, for scripts that would rather not parse JSON. */
export function hookEnv(e: HookEvent): Record<string, string> {
  return {
    REDISHAPPY_EVENT: e.event,
    REDISHAPPY_DELIVERY_ID: e.deliveryId,
    REDISHAPPY_CLUSTER: e.cluster,
    REDISHAPPY_OLD_MASTER_IP: e.previous?.ip ?? '',
    REDISHAPPY_OLD_MASTER_PORT: e.previous ? String(e.previous.port) : '',
    REDISHAPPY_NEW_MASTER_IP: e.current.ip,
    REDISHAPPY_NEW_MASTER_PORT: String(e.current.port),
    REDISHAPPY_CONFIG_EPOCH: e.configEpoch === null ? '' : String(e.configEpoch),
    REDISHAPPY_CONFIRMED_AT: e.confirmedAt,
    // "ip:port ip:port": the replicas serving reads ("" when none, or no read endpoint).
    REDISHAPPY_READ_POOL: e.read.serving.map((r) => joinHostPort(r.ip, r.port)).join(' '),
  };
}
