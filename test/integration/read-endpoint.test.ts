import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort, haproxyCli, routedTo, sentinelFailover, startCluster, testCleanup, waitFor, type Cleanup, type ClusterFixture, type RedisNode } from '../harness/index.js';
import { startHaproxyDaemon, type HaproxySetup } from '../support/haproxy-setup.js';
import { parseServersState } from '../../src/outputs/haproxy/runtime.js';
import type { RouteVerification } from '../../src/verify/types.js';

/**
 * The read endpoint (issue 21) end to end: real redis (one master, two replicas), three real
 * sentinels, real HAProxy running the SHIPPED template (examples/haproxy/haproxy_template_runtime.cfg,
 * with only the root-only global lines swapped for a loopback admin socket).
 */

const SHIPPED = new URL('../../examples/haproxy/haproxy_template_runtime.cfg', import.meta.url);

function shippedTemplate(adminSocket: string): string {
  const text = readFileSync(SHIPPED, 'utf8');
  const body = text.slice(text.indexOf('defaults'));
  return `global\n stats socket ${adminSocket} level admin\n hard-stop-after 5s\n\n${body.replaceAll('bind *:', 'bind 127.0.0.1:')}`;
}

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

interface Started {
  cluster: ClusterFixture;
  setup: HaproxySetup;
  api: string;
  readPort: number;
  master: RedisNode;
  replicas: RedisNode[];
}

async function startReadEndpoint(cleanup: Cleanup, opts: { runtime: boolean; cluster?: { downAfterMs?: number }; clusterConfig?: Record<string, unknown>; extra?: Record<string, unknown> }): Promise<Started> {
  const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 2, sentinels: 3, ...opts.cluster });
  const readPort = await freePort();
  const { setup, api, daemon } = await startHaproxyDaemon(cleanup, cluster, {
    runtime: opts.runtime,
    template: shippedTemplate('ADMIN_SOCKET'),
    edit: (s) => {
      writeFileSync(s.templatePath, readFileSync(s.templatePath, 'utf8').replace('ADMIN_SOCKET', s.adminSocket));
      const config = JSON.parse(readFileSync(s.configPath, 'utf8')) as { Clusters: Array<Record<string, unknown>> } & Record<string, unknown>;
      config.Clusters[0] = { ...config.Clusters[0], ExternalReadPort: readPort, ...opts.clusterConfig };
      Object.assign(config, opts.extra);
      // SIGUSR2 returns before HAProxy has reloaded; a second one during that reload can be lost
      // (the pool's first fill often follows the first publish by milliseconds). Wait for the
      // new worker, as a systemd reload does.
      const hap = config.HAProxy as Record<string, unknown>;
      hap.ReloadCommand = `${String(hap.ReloadCommand)} && sleep 0.5`;
      writeFileSync(s.configPath, JSON.stringify(config));
    },
  });
  if (process.env.READ_DEBUG) cleanup.add(() => writeFileSync(`/tmp/read-debug-${Date.now()}.log`, daemon.stdout() + daemon.stderr()));
  return { cluster, setup, api, readPort, master: cluster.masters.get('testing')!, replicas: cluster.replicas.get('testing')! };
}

/** Where `n` new connections through the read port land (port of the Redis node), and how many failed. */
async function readTargets(readPort: number, n: number): Promise<{ ports: number[]; failed: number }> {
  const ports: number[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    try {
      ports.push(await routedTo(readPort));
    } catch {
      failed++;
    }
  }
  return { ports, failed };
}

const sameSet = (a: Iterable<number>, b: Iterable<number>) => [...new Set(a)].sort().join() === [...new Set(b)].sort().join();

interface PoolEntry {
  port: number;
  state: string;
  reason: string | null;
  lagBytes: number | null;
}

async function readPool(api: string): Promise<{ target: string; replicas: PoolEntry[] }> {
  const clusters = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ name: string; readPool: { target: string; replicas: PoolEntry[] } }>;
  return clusters.find((c) => c.name === 'testing')!.readPool;
}

/** Ports of the read backend's servers that take new connections in the running HAProxy (not in maintenance). */
async function readServersReady(setup: HaproxySetup): Promise<number[]> {
  const states = parseServersState(await haproxyCli(setup.adminSocket, 'show servers state bk_testing_read'));
  // Running, and no forced, inherited, resolution or health maintenance. The config's "disabled"
  // bit (0x04) stays set after "set server state ready" although the server serves (HAProxy 2.6).
  return states.filter((st) => !st.server.endsWith('_master') && st.opState === 2 && (st.adminState & 0x63) === 0).map((st) => st.port);
}

/** The time (Date.now()) a sentinel announces `channel` for the replica on `port`. */
function sentinelEvent(cleanup: Cleanup, sentinel: RedisNode, channel: string, port: number): Promise<number> {
  const sub = sentinel.client();
  cleanup.add(() => sub.disconnect());
  return new Promise<number>((resolve, reject) => {
    sub.on('message', (_ch: string, payload: string) => {
      if (payload.startsWith('slave ') && payload.split(' ')[3] === String(port)) resolve(Date.now());
    });
    sub.subscribe(channel).catch(reject);
  });
}

async function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitBothReplicasServe(s: Started, what: string): Promise<void> {
  const replicaPorts = s.replicas.map((r) => r.port);
  await waitFor(async () => sameSet((await readTargets(s.readPort, 6)).ports, replicaPorts), { timeoutMs: 30000, what });
}

for (const runtime of [true, false]) {
  describe(`read endpoint, ${runtime ? 'runtime API' : 'reload'} mode (real redis, sentinels, haproxy)`, { timeout: 240000 }, () => {
    it('serves reads from both replicas only; a kill -9 replica is out within 2 s of its +sdown and rejoins after resync', async (t: TestContext) => {
      const cleanup = testCleanup(t);
      const s = await startReadEndpoint(cleanup, { runtime });
      const [gone, stays] = s.replicas as [RedisNode, RedisNode];

      // Reads land on both replicas, never on the master.
      await waitBothReplicasServe(s, 'reads through the read port to reach both replicas');
      const many = await readTargets(s.readPort, 20);
      assert.equal(many.failed, 0, 'every read connection works');
      assert.ok(!many.ports.includes(s.master.port), 'no read reaches the master');
      assert.ok(sameSet(many.ports, [gone.port, stays.port]), `both replicas serve: ${many.ports.join()}`);
      const reloadsBefore = reloads(s.setup.reloadLog);

      const sdown = sentinelEvent(cleanup, s.cluster.sentinels[0]!, '+sdown', gone.port);
      await gone.kill('SIGKILL');
      assert.equal(gone.running, false, 'the replica process is gone');
      const sdownAt = await deadline(sdown, 20000, `+sdown of replica ${gone.port}`);

      // Within 2 s of +sdown: the running HAProxy no longer sends new connections to it.
      await waitFor(async () => !(await readServersReady(s.setup)).includes(gone.port), { timeoutMs: Math.max(1, sdownAt + 2000 - Date.now()), intervalMs: 50, what: 'HAProxy to stop sending reads to the killed replica within 2 s of +sdown' });
      const after = await readTargets(s.readPort, 10);
      assert.equal(after.failed, 0, 'no read fails once the dead replica is out');
      assert.ok(after.ports.every((p) => p === stays.port), `reads land only on the live replica: ${after.ports.join()}`);
      const pool = await readPool(s.api);
      const out = pool.replicas.find((r) => r.port === gone.port);
      assert.equal(out?.state, 'out', 'the API shows the killed replica out');
      if (runtime) assert.equal(reloads(s.setup.reloadLog), reloadsBefore, 'runtime mode: the pool changed without a reload');
      else assert.ok(reloads(s.setup.reloadLog) > reloadsBefore, 'reload mode: the pool change was reloaded');

      // It comes back, resyncs, and rejoins.
      await gone.restart();
      await waitFor(async () => /master_link_status:up/.test(await gone.client().info('replication')), { timeoutMs: 30000, what: 'the restarted replica to resync' });
      await waitBothReplicasServe(s, 'the restarted replica to rejoin the read pool');
      if (runtime) assert.equal(reloads(s.setup.reloadLog), reloadsBefore, 'runtime mode: no reload for the return either');
    });
  });
}

describe('read endpoint: lag, failover, fallback (real redis, sentinels, haproxy; runtime API)', { timeout: 240000 }, () => {
  it('a replica that falls behind by more than MaxReplicaLagBytes leaves the pool, and rejoins once caught up', async (t: TestContext) => {
    const cleanup = testCleanup(t);
    // Sentinel must not see the stalled replica as down: this is lag, not an outage.
    const s = await startReadEndpoint(cleanup, { runtime: true, cluster: { downAfterMs: 10000 }, clusterConfig: { MaxReplicaLagBytes: 20000 } });
    const [slow, other] = s.replicas as [RedisNode, RedisNode];
    await waitBothReplicasServe(s, 'both replicas serving before the lag');
    const reloadsBefore = reloads(s.setup.reloadLog);

    const outSeen = new Set<number>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const r of (await readPool(s.api)).replicas) if (r.state === 'out') outSeen.add(r.port);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    cleanup.add(async () => {
      watching = false;
      await watch;
    });
    slow.pause(); // SIGSTOP: it stops reading the replication stream and acknowledging
    cleanup.add(() => slow.resume());
    const writer = s.master.client();
    cleanup.add(() => writer.disconnect());
    const value = 'x'.repeat(2000);
    for (let i = 0; i < 100; i++) await writer.set(`lag:${i}`, value);
    // The fault is real: the master's own ROLE shows the replica's acknowledged offset far behind.
    await waitFor(async () => {
      const role = (await writer.call('ROLE')) as [string, number, Array<[string, string, string]>];
      const acked = role[2].find((r) => Number(r[1]) === slow.port);
      return acked !== undefined && role[1] - Number(acked[2]) > 20000;
    }, { timeoutMs: 5000, what: 'the stalled replica to be behind by more than 20000 bytes' });

    await waitFor(async () => (await readPool(s.api)).replicas.find((r) => r.port === slow.port)?.reason === 'lagging', { timeoutMs: 10000, what: 'the API to show the replica out as lagging' });
    await waitFor(async () => {
      const ready = await readServersReady(s.setup);
      return !ready.includes(slow.port) && ready.includes(other.port);
    }, { timeoutMs: 10000, what: 'HAProxy to stop sending reads to the lagging replica' });
    const lagging = (await readPool(s.api)).replicas.find((r) => r.port === slow.port)!;
    assert.ok(lagging.lagBytes !== null && lagging.lagBytes > 20000, `lag measured: ${lagging.lagBytes}`);
    const metrics = await (await fetch(`${s.api}/metrics`)).text();
    const lagSeries = new RegExp(`^redishappy_replica_lag_bytes\\{cluster="testing",replica="127\\.0\\.0\\.1:${slow.port}"\\} (\\d+)$`, 'm').exec(metrics);
    assert.ok(lagSeries && Number(lagSeries[1]) > 20000, 'the lag is in /metrics');
    assert.match(metrics, new RegExp(`^redishappy_replica_read_state\\{cluster="testing",replica="127\\.0\\.0\\.1:${slow.port}",state="lagging"\\} 1$`, 'm'));
    assert.match(metrics, /^redishappy_read_pool_size\{cluster="testing"\} 1$/m);

    slow.resume();
    await waitBothReplicasServe(s, 'the caught-up replica to rejoin');
    watching = false;
    await watch;
    const back = (await readPool(s.api)).replicas.find((r) => r.port === slow.port)!;
    assert.equal(back.state, 'serving');
    assert.equal(reloads(s.setup.reloadLog), reloadsBefore, 'runtime mode: the lag left and rejoined without a reload');
    // The replica that kept up was never out: replicas acknowledge once a second, and the lag is
    // measured against where the master was one acknowledgement ago.
    assert.ok(!outSeen.has(other.port), 'the replica that kept up never left the pool');
  });

  it('a master failover: the promoted replica leaves the pool, reads keep working, the old master rejoins as a replica', async (t: TestContext) => {
    const cleanup = testCleanup(t);
    const s = await startReadEndpoint(cleanup, { runtime: true });
    await waitBothReplicasServe(s, 'both replicas serving before the failover');

    // Reads all along: one new connection every 20 ms, each one a GET.
    let reads = 0;
    let failed = 0;
    let reading = true;
    const loop = (async () => {
      while (reading) {
        const c = new Redis({ host: '127.0.0.1', port: s.readPort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 1000, enableReadyCheck: false });
        c.on('error', () => {});
        try {
          await c.connect();
          await c.get('k');
          reads++;
        } catch {
          failed++;
        } finally {
          c.disconnect();
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    cleanup.add(async () => {
      reading = false;
      await loop;
    });

    await sentinelFailover(s.cluster.sentinels[0]!, 'testing');
    const promoted = await waitFor(async () => {
      for (const r of s.replicas) if ((await r.role()) === 'master') return r;
      return undefined;
    }, { timeoutMs: 30000, what: 'a replica to be promoted' });
    const other = s.replicas.find((r) => r !== promoted)!;
    // The promoted replica leaves the read pool; the old master rejoins once it replicates in sync.
    await waitFor(async () => sameSet((await readTargets(s.readPort, 6)).ports, [other.port, s.master.port]), { timeoutMs: 40000, what: 'the read pool to be the other replica and the old master' });
    const pool = await readPool(s.api);
    assert.equal(pool.replicas.find((r) => r.port === promoted.port)?.state ?? 'absent', 'absent', 'the promoted replica is no longer a read candidate');
    reading = false;
    await loop;
    assert.ok(reads > 20, `reads ran during the failover (${reads})`);
    // Reads fail only while the promoted replica's slot or the reconfigured replicas resync.
    assert.ok(failed <= Math.max(5, reads / 10), `few reads failed during the failover: ${failed} of ${reads + failed}`);
    t.diagnostic(`failover: ${failed} of ${reads + failed} reads failed`);
  });

  for (const fallback of [true, false]) {
    it(`no healthy replica: reads ${fallback ? 'go to the master (ReadFallbackToMaster true)' : 'are refused (ReadFallbackToMaster false)'}`, async (t: TestContext) => {
      const cleanup = testCleanup(t);
      const s = await startReadEndpoint(cleanup, { runtime: true, extra: { ReadFallbackToMaster: fallback } });
      await waitBothReplicasServe(s, 'both replicas serving first');
      for (const r of s.replicas) await r.kill('SIGKILL');
      assert.ok(s.replicas.every((r) => !r.running), 'both replicas are gone');
      await waitFor(async () => (await readPool(s.api)).target === (fallback ? 'master' : 'none'), { timeoutMs: 15000, what: 'the API to show where reads go' });
      if (fallback) {
        await waitFor(async () => {
          const r = await readTargets(s.readPort, 4);
          return r.failed === 0 && r.ports.every((p) => p === s.master.port);
        }, { timeoutMs: 5000, what: 'reads to go to the master' });
      } else {
        await waitFor(async () => (await readTargets(s.readPort, 4)).failed === 4, { timeoutMs: 5000, what: 'reads to be refused' });
        // Dead replicas refuse before their slots are emptied: the runtime update follows the API.
        await waitFor(async () => (await readServersReady(s.setup)).length === 0, { timeoutMs: 5000, what: 'no read server ready in HAProxy' });
      }
      // The read door's verification agrees (docs/verification.md#read-doors): the master reached
      // as the fallback, or the refusal as the right state.
      const v = await waitFor(async () => {
        const clusters = (await (await fetch(`${s.api}/api/topology`)).json()) as Array<{ name: string; readVerification: Record<string, RouteVerification> }>;
        const r = clusters.find((c) => c.name === 'testing')?.readVerification.haproxy;
        return r?.state === 'verified' && r.readTarget === (fallback ? 'master' : 'none') ? r : undefined;
      }, { timeoutMs: 15000, what: 'the read door verified against the empty pool' });
      if (fallback) assert.equal(v.servedBy, `127.0.0.1:${s.master.port}`, 'the check reached the master');
      else assert.ok(v.refused && v.servedBy === undefined, `refused: ${v.refused}`);
    });
  }
});
