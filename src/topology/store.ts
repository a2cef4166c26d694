import { EventEmitter } from 'node:events';
import type { ClusterState, MasterAddress, MasterChange, ReadPool, TopologySnapshot } from './types.js';
import { sameAddress } from '../config/address.js';

export interface ClusterDefinition {
  name: string;
  externalPort: number;
  /** The read endpoint's port; absent or null: none. */
  externalReadPort?: number | null;
  /** Default true. */
  readFallbackToMaster?: boolean;
}

interface TopologyEvents {
  change: [change: MasterChange, snapshot: TopologySnapshot];
  reconfigured: [snapshot: TopologySnapshot];
  /** The replicas serving a cluster's reads changed (no master change; the version is not bumped). */
  replicas: [cluster: string, snapshot: TopologySnapshot];
}

/**
 * The single source of truth: per configured cluster, the confirmed master and how it was
 * confirmed. Emits `change` only when a confirmed master really changes.
 */
export class TopologyStore extends EventEmitter<TopologyEvents> {
  private clusters = new Map<string, ClusterState>();
  private version = 0;
  private cached: TopologySnapshot | null = null;
  /**
   * Per cluster, the copy handed out in snapshots, made again only when that cluster changes; and
   * the names in snapshot order. A snapshot is then a list of references: with 1,000 clusters
   * failing over, one change no longer copies and sorts all of them.
   */
  private copies = new Map<string, ClusterState>();
  private order: string[] = [];

  constructor(definitions: readonly ClusterDefinition[]) {
    super();
    this.reconfigure(definitions, false);
  }

  /** Replace the set of clusters (SIGHUP); kept clusters keep their confirmed master. */
  reconfigure(definitions: readonly ClusterDefinition[], emit = true): void {
    const next = new Map<string, ClusterState>();
    for (const def of definitions) {
      const old = this.clusters.get(def.name);
      const read = { externalReadPort: def.externalReadPort ?? null, readFallbackToMaster: def.readFallbackToMaster ?? true };
      next.set(def.name, old ? { ...old, externalPort: def.externalPort, ...read } : { name: def.name, externalPort: def.externalPort, master: null, configEpoch: null, confirmedAt: null, agreeingSentinels: [], replicas: [], ...read, readPool: null });
    }
    this.clusters = next;
    this.copies.clear();
    this.order = [...next.keys()].sort();
    this.version++;
    this.cached = null;
    if (emit) this.emit('reconfigured', this.snapshot());
  }

  get(name: string): ClusterState | undefined {
    return this.clusters.get(name);
  }

  names(): string[] {
    return [...this.clusters.keys()].sort();
  }

  snapshot(): TopologySnapshot {
    if (!this.cached) this.cached = Object.freeze({ clusters: this.order.map((name) => this.copyOf(name)), version: this.version });
    return this.cached;
  }

  private copyOf(name: string): ClusterState {
    let copy = this.copies.get(name);
    if (!copy) {
      const c = this.clusters.get(name)!;
      copy = Object.freeze({
        ...c,
        master: c.master ? Object.freeze({ ...c.master }) : null,
        agreeingSentinels: Object.freeze([...c.agreeingSentinels]) as string[],
        replicas: Object.freeze((c.replicas ?? []).map((r) => Object.freeze({ ...r }))) as MasterAddress[],
        readPool: c.readPool ? (Object.freeze({ candidates: Object.freeze(c.readPool.candidates.map((r) => Object.freeze({ ...r }))), serving: Object.freeze(c.readPool.serving.map((r) => Object.freeze({ ...r }))) }) as ReadPool) : null,
      });
      this.copies.set(name, copy);
    }
    return copy;
  }

  /**
   * Record the replicas Sentinel knows for a cluster (order does not matter). Emits `replicas`
   * when the set changed; returns whether it did.
   */
  setReplicas(name: string, replicas: readonly MasterAddress[]): boolean {
    const current = this.clusters.get(name);
    if (!current) return false;
    const key = (list: readonly MasterAddress[]) => list.map((r) => `${r.ip} ${r.port}`).sort().join(',');
    if (key(current.replicas ?? []) === key(replicas)) return false;
    this.clusters.set(name, { ...current, replicas: replicas.map((r) => ({ ip: r.ip, port: r.port })) });
    this.copies.delete(name);
    this.cached = null;
    this.emit('replicas', name, this.snapshot());
    return true;
  }

  /**
   * Record a cluster's read pool: `replicas` becomes its serving replicas. Emits `replicas` only
   * when the serving set changed (that is what outputs apply); lags and reasons are kept for the
   * API without waking the outputs every poll. Returns whether the serving set changed.
   */
  setReadPool(name: string, pool: ReadPool): boolean {
    const current = this.clusters.get(name);
    if (!current) return false;
    // Recomputed at every discovery slice for each cluster: an identical pool must not throw away
    // the cached snapshot (1,000 clusters rebuilt for nothing).
    if (current.readPool && JSON.stringify(current.readPool) === JSON.stringify(pool)) return false;
    const key = (list: readonly MasterAddress[]) => list.map((r) => `${r.ip} ${r.port}`).sort().join(',');
    const changed = key(current.replicas ?? []) !== key(pool.serving);
    this.clusters.set(name, { ...current, replicas: pool.serving.map((r) => ({ ip: r.ip, port: r.port })), readPool: pool });
    this.copies.delete(name);
    this.cached = null;
    if (changed) this.emit('replicas', name, this.snapshot());
    return changed;
  }

  /**
   * Record a confirmed master. Returns the change, or null when it is the master we already had
   * (only its epoch/agreement details are refreshed then, without an event).
   */
  confirm(name: string, master: MasterAddress, configEpoch: number, agreeing: string[], announcedAt: number | null): MasterChange | null {
    const current = this.clusters.get(name);
    if (!current) return null;
    if (sameAddress(current.master, master)) {
      if (current.configEpoch !== configEpoch || current.agreeingSentinels.join() !== agreeing.join()) {
        this.clusters.set(name, { ...current, configEpoch, agreeingSentinels: agreeing });
        this.copies.delete(name);
        this.cached = null;
      }
      return null;
    }
    const confirmedAt = new Date().toISOString();
    // The promoted replica is a replica no more (the watcher refreshes the list right after); the
    // read pool was measured against the old master, so it is left to the next measurement.
    const replicas = current.replicas?.filter((r) => !sameAddress(r, master));
    const readPool = current.readPool ? { candidates: current.readPool.candidates.filter((r) => !sameAddress(r, master)), serving: current.readPool.serving.filter((r) => !sameAddress(r, master)) } : current.readPool;
    this.clusters.set(name, { ...current, master: { ...master }, configEpoch, confirmedAt, agreeingSentinels: agreeing, ...(replicas ? { replicas } : {}), readPool });
    this.version++;
    this.copies.delete(name);
    this.cached = null;
    const change: MasterChange = { cluster: name, previous: current.master, current: { ...master }, configEpoch, confirmedAt, announcedAt };
    this.emit('change', change, this.snapshot());
    return change;
  }
}
