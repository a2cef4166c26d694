import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { command, routedTo, testCleanup, type Cleanup, startCluster, startRedis, startSentinel, waitFor, type RedisNode } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { editJson } from '../support/paths.js';
import { startWatcher, testConfig } from '../support/watch.js';
import { restartAtEpoch } from '../support/epoch.js';

/**
 * Issue 12: a master change is confirmed only when a quorum of the cluster's sentinel group names
 * it. Real redis-server, sentinels and HAProxy throughout.
 */

const SAFE_DOWN_AFTER_MS = 3000;



/** Poll a condition until `done`, failing at once if `never` is ever true (waitFor would retry it away). */
async function watchUntil(opts: { never: () => Promise<string | null> | string | null; done: () => Promise<boolean> | boolean; timeoutMs: number; what: string }): Promise<number> {
  const deadline = Date.now() + opts.timeoutMs;
  let checks = 0;
  for (;;) {
    const bad = await opts.never();
    assert.equal(bad, null, bad ?? '');
    checks++;
    if (await opts.done()) return checks;
    assert.ok(Date.now() < deadline, `timed out after ${opts.timeoutMs}ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('sentinel quorum', { timeout: 240000 }, () => {

  for (const rogueFirst of [false, true]) {
    it(`a sentinel of another deployment in the list (${rogueFirst ? 'listed first' : 'listed second'}) never gets a client, and a real failover is followed (HAProxy, runtime API)`, async (t) => {
      const cleanup = testCleanup(t);
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
      const master = cluster.masters.get('testing')!;
      const replica = cluster.replicas.get('testing')![0]!;
      // Another deployment: a standalone redis (really ROLE master) monitored under the same name at config-epoch 50.
      const stray = await startRedis(cleanup);
      const rogue = await startSentinel(cleanup, { monitors: [{ name: 'testing', host: '127.0.0.1', port: stray.port, quorum: 1 }], extraConf: ['sentinel config-epoch testing 50'] });
      // The fault is real: the rogue sentinel names the stray at epoch 50, and the stray answers ROLE master.
      assert.equal(await stray.role(), 'master');
      const rogueView = await command(rogue, 'SENTINEL', 'MASTER', 'testing') as string[];
      assert.equal(rogueView[rogueView.indexOf('config-epoch') + 1], '50');
      assert.equal(Number(rogueView[rogueView.indexOf('port') + 1]), stray.port);

      const real = { Host: '127.0.0.1', Port: cluster.sentinels[0]!.port };
      const wrong = { Host: '127.0.0.1', Port: rogue.port };
      // API on a port the kernel picks; HAProxy and the daemon started again if a frontend port was taken.
      const { setup, daemon: d, api: base } = await startHaproxyDaemon(cleanup, cluster, {
        runtime: true,
        edit: (s) => editJson(s.configPath, (cfg) => (cfg.Sentinels = rogueFirst ? [wrong, real] : [real, wrong])),
        // waitRouted (the default): HAProxy routes to the real master before the checks below start.
        timeoutMs: 20000,
      });
      const ext = setup.externalPorts.get('testing')!;
      const api = async <T>(path: string) => (await (await fetch(`${base}${path}`)).json()) as T;

      // From the first routed connection on, every new client connection must land on the real master.
      const landed = async () => {
        const port = await routedTo(ext).catch(() => 0);
        return port === stray.port ? `a client connection landed on the other deployment's redis (${stray.port})` : null;
      };
      assert.equal(await routedTo(ext), master.port, 'HAProxy routes to the real master');
      const rogueKey = `127.0.0.1:${rogue.port}`;
      await watchUntil({
        never: landed,
        done: async () => {
          const s = await api<{ sentinels: Record<string, { outOfGroup: string[]; disagrees: string[] }> }>('/api/sentinels');
          return s.sentinels[rogueKey]?.outOfGroup.includes('testing') === true;
        },
        timeoutMs: 15000,
        what: 'the rogue sentinel to be shown outside the group',
      });
      const topo = await api<Array<{ quorum: number; knownSentinels: number; views: Array<{ sentinel: string; configEpoch: number; inGroup: boolean; agrees: boolean }> }>>('/api/topology');
      assert.equal(topo[0]!.quorum, 2);
      assert.equal(topo[0]!.knownSentinels, 3, 'the rogue is not counted');
      assert.deepEqual(topo[0]!.views.filter((v) => v.sentinel === rogueKey).map((v) => [v.configEpoch, v.inGroup, v.agrees]), [[50, false, false]]);

      // The real master dies: the real group's failover (epoch 1, below the rogue's 50) is followed.
      await master.kill('SIGKILL');
      const checks = await watchUntil({ never: landed, done: async () => (await routedTo(ext).catch(() => 0)) === replica.port, timeoutMs: 40000, what: 'HAProxy routes to the promoted replica' });
      assert.ok(checks > 10, `only ${checks} client connections checked`);
      const after = await api<Array<{ configEpoch: number; ip: string; port: number }>>('/api/topology');
      assert.equal(after[0]!.port, replica.port);
      assert.ok(after[0]!.configEpoch >= 1 && after[0]!.configEpoch < 50, `confirmed epoch ${after[0]!.configEpoch} is the real group's`);
      assert.equal(d.child.exitCode, null);
    });
  }

  /** Another deployment: its own master and `size` sentinels monitoring it under the same name, at config-epoch 50. */
  async function otherDeployment(cleanup: Cleanup, size: number) {
    const other = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: size, downAfterMs: 60000 });
    await restartAtEpoch(other, 50);
    await other.waitForSentinelsDiscovered();
    const view = await other.sentinelMaster('testing');
    // The fault is real: the other group names its own master, which answers ROLE master, at epoch 50.
    assert.equal(view.configEpoch, 50);
    assert.equal(await other.masters.get('testing')!.role(), 'master');
    return other;
  }

  it('a sentinel of another deployment with 4 peers of its own: its whole group is left out, and with one real sentinel down a failover is still followed', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    // Bigger than the real group: counted together (Q 5 of 8) its 5 would be enough on their own.
    const other = await otherDeployment(cleanup, 5);
    const stray = other.masters.get('testing')!;
    const [s1, s2, s3] = cluster.sentinels as [RedisNode, RedisNode, RedisNode];
    const w = startWatcher(testConfig([{ name: 'testing' }], [s1, other.sentinels[0]!, s2].map((s) => ({ host: s.host, port: s.port }))));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'the real master confirmed' });
    // Every sentinel of the other deployment is discovered, watched, and left out.
    const otherKeys = other.sentinels.map((s) => `${s.host}:${s.port}`);
    await waitFor(() => otherKeys.every((k) => w.watcher.sentinels()[k]?.outOfGroup.includes('testing')), { timeoutMs: 15000, what: 'the other group seen and left out' });
    const status = w.watcher.clusterStatus('testing');
    assert.deepEqual([status.quorum, status.knownSentinels], [2, 3]);
    assert.equal(status.views.filter((v) => v.configEpoch === 50 && v.port === stray.port && !v.inGroup).length, 5);
    // Logged on change (not per poll), naming each left-out sentinel and what it claims.
    const leftOut = () => w.logLines.filter((l) => l.includes("not in the cluster's sentinel group")).map((l) => JSON.parse(l) as { sentinels: string[]; claims: string[] });
    const lastLeftOut = await waitFor(() => leftOut().at(-1)?.sentinels.length === 5 ? leftOut().at(-1) : undefined, { timeoutMs: 10000, what: 'the left-out sentinels logged' });
    assert.deepEqual([...lastLeftOut.sentinels].sort(), [...otherKeys].sort());
    assert.ok(lastLeftOut.claims.every((c) => c.endsWith(`names 127.0.0.1:${stray.port} at epoch 50`)), lastLeftOut.claims.join('; '));
    const logged = leftOut().length;

    // One real sentinel down (a discovered one), then the real master dies.
    await s3.kill('SIGKILL');
    await waitFor(() => w.watcher.sentinels()[`${s3.host}:${s3.port}`]?.state === 2, { timeoutMs: 10000, what: 'the real sentinel marked down' });
    await master.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 40000, what: 'the failover followed with one real sentinel down' });
    assert.ok(w.changes.every((c) => c.current?.port !== stray.port), 'the other deployment\'s master was never confirmed');
    assert.ok((w.topology.get('testing')?.configEpoch ?? 99) < 50);
    // The failover re-decided many times; the left-out sentinels did not change, so no new line.
    assert.equal(leftOut().length, logged, 'the left-out sentinels logged again without a change');
  });

  it('two unrelated groups named equally in the list: nothing is confirmed, and the reason names both groups', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const other = await otherDeployment(cleanup, 3);
    const w = startWatcher(testConfig([{ name: 'testing' }], [cluster.sentinels[0]!, other.sentinels[0]!].map((s) => ({ host: s.host, port: s.port }))));
    cleanup.add(() => w.watcher.stop());
    const held = await waitFor(() => {
      const h = w.watcher.clusterStatus('testing').held;
      return h?.reason.includes('unrelated groups') ? h : undefined;
    }, { timeoutMs: 15000, what: 'the cluster held for two unrelated groups' });
    for (const s of [...cluster.sentinels, ...other.sentinels]) assert.ok(held.reason.includes(`${s.host}:${s.port}`), `the reason names ${s.port}: ${held.reason}`);
    // Every sentinel of both groups answered (so the watcher knows both groups whole), and still nothing.
    await waitFor(() => w.watcher.clusterStatus('testing').views.length === 6, { timeoutMs: 15000, what: 'views of all six sentinels' });
    assert.equal(w.master('testing'), null);
    assert.equal(w.changes.length, 0);
  });

  for (const paused of ['real', 'rogue'] as const) {
    it(`a lone rogue sentinel and the real group, the ${paused} sentinel answering last: the real master, never the stray, and a failover with one real sentinel down`, async (t) => {
      const cleanup = testCleanup(t);
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
      const master = cluster.masters.get('testing')!;
      const replica = cluster.replicas.get('testing')![0]!;
      const stray = await startRedis(cleanup);
      const rogue = await startSentinel(cleanup, { monitors: [{ name: 'testing', host: '127.0.0.1', port: stray.port, quorum: 1 }], extraConf: ['sentinel config-epoch testing 50'] });
      const real = cluster.sentinels[0]!;
      const late = paused === 'real' ? real : rogue;
      const early = paused === 'real' ? rogue : real;
      // Force the order of arrival: the paused sentinel accepts the connection but answers nothing until
      // resumed (a long command timeout keeps it from being marked down meanwhile, even on a loaded machine).
      late.pause();
      cleanup.add(() => late.resume());
      const w = startWatcher(testConfig([{ name: 'testing' }], [real, rogue].map((s) => ({ host: s.host, port: s.port })), { Watcher: { PollIntervalMs: 200, CommandTimeoutMs: 10000, DiscoveryIntervalMs: 1000, ReconnectMinMs: 100, ReconnectMaxMs: 500 } }));
      cleanup.add(() => w.watcher.stop());
      const earlyKey = `${early.host}:${early.port}`;
      await waitFor(() => w.watcher.sentinels()[earlyKey]?.state === 3, { timeoutMs: 10000, what: 'the early sentinel answered' });
      // The paused one really has not answered; nothing is confirmed while its group is unknown.
      assert.notEqual(w.watcher.sentinels()[`${late.host}:${late.port}`]?.state, 3);
      const waiting = await waitFor(() => w.watcher.clusterStatus('testing').held?.reason, { timeoutMs: 10000, what: 'a hold reason' });
      // The rogue answering first: nobody is linked yet, so both count (quorum 2) and the rogue alone is not enough.
      // The real one answering first: its group is known, and the choice waits for the other configured sentinel.
      assert.match(waiting, paused === 'real' ? /no 2 sentinels agree/ : new RegExp(`waiting for the first answer of configured sentinel 127\\.0\\.0\\.1:${late.port}`));
      assert.equal(w.master('testing'), null);
      late.resume();
      await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'the real master confirmed' });
      await waitFor(() => w.watcher.sentinels()[`${rogue.host}:${rogue.port}`]?.outOfGroup.includes('testing'), { timeoutMs: 10000, what: 'the rogue shown outside the group' });

      // One real sentinel (discovered) down, then the real master dies: 2 of 3 are enough.
      const down = cluster.sentinels[2]!;
      await down.kill('SIGKILL');
      await waitFor(() => w.watcher.sentinels()[`${down.host}:${down.port}`]?.state === 2, { timeoutMs: 10000, what: 'the real sentinel marked down' });
      await master.kill('SIGKILL');
      await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 40000, what: 'the failover followed' });
      assert.ok(w.changes.every((c) => c.current?.port !== stray.port), 'the stray was never confirmed');
    });
  }

});
