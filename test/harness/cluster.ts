import type { Cleanup } from './cleanup.js';
import { startRedis, startSentinel, type RedisNode, type SentinelNode } from './redis.js';
import { waitFor } from './wait.js';

export interface ClusterFixture {
  names: string[];
  masters: Map<string, RedisNode>;
  replicas: Map<string, RedisNode[]>;
  sentinels: SentinelNode[];
  sentinelMaster(name: string, sentinel?: SentinelNode): Promise<{ ip: string; port: number; configEpoch: number }>;
  waitForReplicasSynced(name: string, timeoutMs?: number): Promise<void>;
  waitForSentinelsDiscovered(timeoutMs?: number): Promise<void>;
  waitForFailover(name: string, from: { host: string; port: number }, timeoutMs?: number): Promise<{ ip: string; port: number }>;
  nodeByPort(port: number): RedisNode | undefined;
  /** `SENTINEL FAILOVER name` through `via` (default: the first running sentinel), retried while Sentinel refuses it. */
  forceFailover(name: string, via?: SentinelNode, timeoutMs?: number): Promise<void>;
}

/**
 * `SENTINEL FAILOVER name`, retried while Sentinel refuses it (a previous failover still settling,
 * replicas not known yet: "-INPROG" / "-NOGOODSLAVE"). Any other refusal is retried too, until the
 * bound, and reported with the last error.
 */
export async function sentinelFailover(via: SentinelNode, name: string, timeoutMs = 30000): Promise<void> {
  const c = via.client();
  try {
    await waitFor(async () => (await c.call('SENTINEL', 'FAILOVER', name)) === 'OK', { timeoutMs, intervalMs: 100, what: `SENTINEL FAILOVER ${name} accepted by ${via.name}` });
  } finally {
    c.disconnect();
  }
}

function field(reply: string[], key: string): string | undefined {
  const i = reply.indexOf(key);
  return i >= 0 ? reply[i + 1] : undefined;
}

/**
 * Real masters, replicas and sentinels on loopback, ready for a failover when this resolves:
 * replicas synced, and every sentinel knows the other sentinels and the replicas.
 */
export async function startCluster(
  cleanup: Cleanup,
  opts: { names?: string[]; replicas?: number; sentinels?: number; quorum?: number; downAfterMs?: number; failoverTimeoutMs?: number } = {},
): Promise<ClusterFixture> {
  const names = opts.names ?? ['testing'];
  const replicaCount = opts.replicas ?? 1;
  const sentinelCount = opts.sentinels ?? 3;
  const quorum = opts.quorum ?? Math.min(2, sentinelCount);
  const masters = new Map<string, RedisNode>();
  const replicas = new Map<string, RedisNode[]>();

  await Promise.all(
    names.map(async (name) => {
      const master = await startRedis(cleanup);
      masters.set(name, master);
      replicas.set(name, await Promise.all(Array.from({ length: replicaCount }, () => startRedis(cleanup, { replicaOf: { host: master.host, port: master.port } }))));
    }),
  );
  const sentinels = await Promise.all(
    Array.from({ length: sentinelCount }, () =>
      startSentinel(cleanup, {
        monitors: names.map((name) => ({ name, host: '127.0.0.1', port: masters.get(name)!.port, quorum })),
        downAfterMs: opts.downAfterMs,
        failoverTimeoutMs: opts.failoverTimeoutMs,
      }),
    ),
  );

  const all = () => [...masters.values(), ...[...replicas.values()].flat()];
  const fixture: ClusterFixture = {
    names,
    masters,
    replicas,
    sentinels,
    nodeByPort: (port) => all().find((n) => n.port === port),
    forceFailover: (name, via, timeoutMs) => sentinelFailover(via ?? sentinels.find((x) => x.running)!, name, timeoutMs),
    async sentinelMaster(name, sentinel) {
      const s = sentinel ?? sentinels.find((x) => x.running)!;
      const c = s.client();
      try {
        const r = (await c.call('SENTINEL', 'MASTER', name)) as string[];
        return { ip: field(r, 'ip')!, port: Number(field(r, 'port')), configEpoch: Number(field(r, 'config-epoch')) };
      } finally {
        c.disconnect();
      }
    },
    async waitForReplicasSynced(name, timeoutMs = 20000) {
      const master = masters.get(name)!;
      const want = replicas.get(name)!.length;
      await waitFor(
        async () => {
          const c = master.client();
          try {
            const info = await c.info('replication');
            return (info.match(/^slave\d+:.*state=online/gm) ?? []).length >= want;
          } finally {
            c.disconnect();
          }
        },
        { timeoutMs, what: `${name} replicas online` },
      );
    },
    async waitForSentinelsDiscovered(timeoutMs = 20000) {
      await waitFor(
        async () => {
          for (const s of sentinels.filter((x) => x.running)) {
            const c = s.client();
            try {
              for (const name of names) {
                const m = (await c.call('SENTINEL', 'MASTER', name)) as string[];
                if (Number(field(m, 'num-other-sentinels')) < sentinelCount - 1) return false;
                const reps = (await c.call('SENTINEL', 'REPLICAS', name)) as string[][];
                const healthy = reps.filter((r) => !(field(r, 'flags') ?? '').includes('down') && field(r, 'master-link-status') === 'ok');
                if (healthy.length < replicas.get(name)!.length) return false;
              }
            } finally {
              c.disconnect();
            }
          }
          return true;
        },
        { timeoutMs, intervalMs: 100, what: 'sentinels to discover each other and the replicas' },
      );
    },
    async waitForFailover(name, from, timeoutMs = 30000) {
      return waitFor(
        async () => {
          const live = sentinels.filter((s) => s.running);
          const views = await Promise.all(live.map((s) => fixture.sentinelMaster(name, s).catch(() => null)));
          const moved = views.filter((v) => v && !(v.ip === from.host && v.port === from.port));
          return moved.length > live.length / 2 ? { ip: moved[0]!.ip, port: moved[0]!.port } : undefined;
        },
        { timeoutMs, intervalMs: 100, what: `${name} to fail over away from ${from.host}:${from.port}` },
      );
    },
  };
  await Promise.all(names.map((n) => fixture.waitForReplicasSynced(n)));
  await fixture.waitForSentinelsDiscovered();
  return fixture;
}
