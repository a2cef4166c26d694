import { sameAddress } from '../../config/address.js';
import type { ClusterState, TopologySnapshot } from '../../topology/types.js';

/**
 * What templates see. `.Clusters` and its fields are the original's (Go `TemplateData`), so
 * existing templates keep working; everything else is an addition for new templates.
 */
export interface TemplateCluster {
  Name: string;
  /** Master address as reported by Sentinel; "" when not confirmed (only in `.AllClusters`). */
  Ip: string;
  /** Real Redis master port; 0 when not confirmed (only in `.AllClusters`). */
  Port: number;
  ExternalPort: number;
  Confirmed: boolean;
  /** Sentinel config-epoch behind the confirmation; 0 when unknown. */
  ConfigEpoch: number;
  /** ISO-8601 UTC time of the confirmation; "" when not confirmed. */
  ConfirmedAt: string;
  /**
   * The replicas serving reads (the read pool: healthy, linked and, with a read port, within the
   * lag limit), sorted; [] when none.
   */
  Replicas: TemplateReplica[];
  /** The read twin of ExternalPort; 0 when the cluster has no read endpoint. */
  ExternalReadPort: number;
  /** With no serving replica, reads go to the master (`.Ip`/`.Port`); false: refused. */
  ReadFallbackToMaster: boolean;
  /**
   * Fixed server slots for the read backend (ReadSlots of them, more only when the pool is larger):
   * slot n holds the n-th serving replica, the rest are empty (`.Ready` false). HAProxy's runtime
   * mode fills and empties them live; the names are what it expects.
   */
  ReadSlots: TemplateReadSlot[];
}

export interface TemplateReadSlot {
  /** Server name: R_<cluster>_read_<n>, n from 1. */
  Name: string;
  /** The replica's address, or 127.0.0.1:1 for an empty slot (never used: it is disabled). */
  Ip: string;
  Port: number;
  /** True when the slot holds a serving replica. */
  Ready: boolean;
}

/** Server slots per read backend unless the output says otherwise. */
export const DEFAULT_READ_SLOTS = 8;

/** The read backend's slots, in pool order (sorted), padded with empty ones. */
export function readSlots(cluster: string, replicas: readonly TemplateReplica[], count: number): TemplateReadSlot[] {
  const n = Math.max(count, replicas.length);
  return Array.from({ length: n }, (_, i) => {
    const r = replicas[i];
    return { Name: `R_${cluster}_read_${i + 1}`, Ip: r ? r.Ip : '127.0.0.1', Port: r ? r.Port : 1, Ready: r !== undefined };
  });
}

export interface TemplateReplica {
  Ip: string;
  Port: number;
}

export interface TemplateData {
  /** Clusters with a confirmed master only, sorted by Name (byte order). */
  Clusters: TemplateCluster[];
  /** Every configured cluster, same order, confirmed or not. */
  AllClusters: TemplateCluster[];
  /** Topology version (increments on every confirmed master change). */
  Version: number;
  /** Highest config epoch among the clusters (0 when none known). */
  Epoch: number;
}

/**
 * An address we are willing to write into a config file: IPv4/IPv6 literal (optionally with a
 * zone) or a host name. Anything else (spaces, newlines, `#`...) could inject configuration.
 */
const PRESENTABLE_HOST = /^[0-9A-Za-z._:%[\]-]+$/;

function presentableAddress(m: { ip: string; port: number } | null): boolean {
  return m !== null && PRESENTABLE_HOST.test(m.ip) && Number.isInteger(m.port) && m.port >= 1 && m.port <= 65535;
}

export function presentableMaster(c: ClusterState): boolean {
  return presentableAddress(c.master);
}

/** Presentable replicas other than the master, sorted by address, without duplicates. */
function presentableReplicas(c: ClusterState): TemplateReplica[] {
  const seen = new Set<string>();
  const out: TemplateReplica[] = [];
  for (const r of c.replicas ?? []) {
    if (!presentableAddress(r)) continue;
    if (sameAddress(c.master, r)) continue;
    const key = `${r.ip} ${r.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ Ip: r.ip, Port: r.port });
  }
  return out.sort((a, b) => compareBytes(a.Ip, b.Ip) || a.Port - b.Port);
}

/** Go sorts names by bytes; JS `<` compares UTF-16 units, which differs outside the BMP. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface BuildResult {
  data: TemplateData;
  /** Clusters with a master that is not safe to render (left out of `.Clusters`). */
  rejected: Array<{ cluster: string; ip: string; port: number }>;
}

/**
 * Builds the template data from the WHOLE snapshot. A cluster without a confirmed (and
 * presentable) master is left out of `.Clusters`, so its frontend is absent rather than
 * rendered as `:0` or an empty address (the original's defect).
 * `clusterNames` (the output's configured clusters) filters a snapshot taken before a config reload.
 */
export function buildTemplateData(snapshot: TopologySnapshot, clusterNames?: readonly string[], slots = DEFAULT_READ_SLOTS): BuildResult {
  const wanted = clusterNames ? new Set(clusterNames) : null;
  const rejected: BuildResult['rejected'] = [];
  const all: TemplateCluster[] = [];
  let epoch = 0;
  const sorted = snapshot.clusters.filter((c) => !wanted || wanted.has(c.name)).sort((a, b) => compareBytes(a.name, b.name));
  for (const c of sorted) {
    const ok = presentableMaster(c);
    if (!ok && c.master) rejected.push({ cluster: c.name, ip: c.master.ip, port: c.master.port });
    const configEpoch = c.configEpoch ?? 0;
    if (configEpoch > epoch) epoch = configEpoch;
    const replicas = presentableReplicas(c);
    all.push({
      Name: c.name,
      Ip: ok && c.master ? c.master.ip : '',
      Port: ok && c.master ? c.master.port : 0,
      ExternalPort: c.externalPort,
      Confirmed: ok,
      ConfigEpoch: configEpoch,
      ConfirmedAt: ok ? (c.confirmedAt ?? '') : '',
      Replicas: replicas,
      ExternalReadPort: c.externalReadPort ?? 0,
      ReadFallbackToMaster: c.readFallbackToMaster ?? true,
      ReadSlots: readSlots(c.name, replicas, slots),
    });
  }
  return {
    data: { Clusters: all.filter((c) => c.Confirmed), AllClusters: all, Version: snapshot.version, Epoch: epoch },
    rejected,
  };
}

/** Data used to try a template out at start-up (and after an edit) before it meets real state. */
export function sampleTemplateData(clusterNames: readonly string[] = [], slots = DEFAULT_READ_SLOTS): TemplateData {
  const names = clusterNames.length ? [...clusterNames].sort(compareBytes) : ['example'];
  const clusters = names.map((name, i) => ({
    Name: name,
    Ip: '127.0.0.1',
    Port: 6379,
    ExternalPort: 6379 + i,
    Confirmed: true,
    ConfigEpoch: 1,
    ConfirmedAt: '1970-01-01T00:00:00.000Z',
    Replicas: [{ Ip: '127.0.0.1', Port: 6380 }],
    ExternalReadPort: 7379 + i,
    ReadFallbackToMaster: true,
    ReadSlots: readSlots(name, [{ Ip: '127.0.0.1', Port: 6380 }], slots),
  }));
  return { Clusters: clusters, AllClusters: clusters, Version: 1, Epoch: 1 };
}

/** What HAProxy's runtime API can change live in one cluster: the master address and the read slots. */
export interface LiveFields {
  ip: string;
  port: number;
  readSlots?: TemplateReadSlot[];
}

/** The same data with some clusters' live fields replaced (used to reconstruct what HAProxy runs). */
export function withAddresses(data: TemplateData, addresses: ReadonlyMap<string, LiveFields>): TemplateData {
  const swap = (c: TemplateCluster): TemplateCluster => {
    const a = addresses.get(c.Name);
    return a && c.Confirmed ? { ...c, Ip: a.ip, Port: a.port, ...(a.readSlots ? { ReadSlots: a.readSlots } : {}) } : c;
  };
  return { ...data, Clusters: data.Clusters.map(swap), AllClusters: data.AllClusters.map(swap) };
}
