import type { ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';
import { joinHostPort } from '../config/address.js';
import type { MasterAddress } from '../topology/types.js';
import { connectWithin, openConnection, type ConnectSettings } from './connection.js';
import { parseRoleReply, type RoleReport } from './role.js';

/**
 * ROLE on each read cluster's confirmed master, over one kept connection per cluster: polled
 * every PollIntervalMs, a new connection each time would cost a handshake (and an AUTH) per
 * poll. A connection that fails is dropped and made again at the next poll.
 */
export class RolePoller {
  private readonly conns = new Map<string, { address: string; redis: Redis }>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly settingsOf: (cluster: string) => ConnectSettings,
    private readonly tls: () => ConnectionOptions | undefined,
  ) {}

  /** The master's answer, or an error text; null when a poll of this cluster is already running. */
  async poll(cluster: string, master: MasterAddress): Promise<RoleReport | { error: string } | null> {
    if (this.inFlight.has(cluster)) return null;
    this.inFlight.add(cluster);
    try {
      const redis = await this.connection(cluster, master);
      const report = parseRoleReply(await redis.call('ROLE'));
      return report ?? { error: 'ROLE answer not understood' };
    } catch (err) {
      this.drop(cluster);
      return { error: (err as Error).message };
    } finally {
      this.inFlight.delete(cluster);
    }
  }

  private async connection(cluster: string, master: MasterAddress): Promise<Redis> {
    const address = joinHostPort(master.ip, master.port);
    const kept = this.conns.get(cluster);
    if (kept?.address === address && kept.redis.status === 'ready') return kept.redis;
    this.drop(cluster);
    const settings = this.settingsOf(cluster);
    const redis = openConnection(master.ip, master.port, settings, this.tls());
    this.conns.set(cluster, { address, redis });
    await connectWithin(redis, settings.timeoutMs);
    return redis;
  }

  /** Close the connection of a cluster that no longer needs polling (or whose master moved). */
  drop(cluster: string): void {
    this.conns.get(cluster)?.redis.disconnect();
    this.conns.delete(cluster);
  }

  close(): void {
    for (const name of [...this.conns.keys()]) this.drop(name);
  }
}
