import type { TopologyStore } from '../topology/store.js';
import { sameAddress } from './confirm.js';
import type { SentinelLink } from './link.js';
import type { ReplicaInfo } from './parse.js';
import { SentinelState } from './state.js';

/**
 * The replicas Sentinel knows for each cluster (template data for read-only backends), read from a
 * sentinel that agrees with the confirmed master: healthy ones only, never the master itself. Not
 * part of the master decision.
 */
export class ReplicaLists {
  constructor(private readonly topology: TopologyStore) {}

  private set(name: string, listed: readonly ReplicaInfo[]): void {
    const master = this.topology.get(name)?.master ?? null;
    if (!master) return;
    const healthy = listed.filter((r) => !r.flags.some((f) => f === 's_down' || f === 'o_down' || f === 'disconnected') && !sameAddress(master, r));
    this.topology.setReplicas(name, healthy.map((r) => ({ ip: r.ip, port: r.port })));
  }

  /** At the discovery pace: the clusters this sentinel confirmed first, in one batch. */
  afterDiscovery(link: SentinelLink, names: Iterable<string>): void {
    const mine = [...names].filter((name) => this.topology.get(name)?.master && this.topology.get(name)?.agreeingSentinels[0] === link.sentinel);
    if (mine.length === 0) return;
    void link.queryReplicasMany(mine).then((lists) => {
      for (const [name, listed] of lists) this.set(name, listed);
    });
  }

  /** Right after a failover, from one live agreeing sentinel. */
  async refresh(name: string, linkOf: (sentinel: string) => SentinelLink | undefined): Promise<void> {
    const cluster = this.topology.get(name);
    if (!cluster?.master) return;
    const link = cluster.agreeingSentinels.map(linkOf).find((l) => l?.state === SentinelState.Alive);
    const listed = await link?.queryReplicas(name);
    if (listed) this.set(name, listed);
  }
}
