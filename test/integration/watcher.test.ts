import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Cleanup, startCluster, waitFor } from '../harness/index.js';
import { FAST_WATCHER, startWatcher, testConfig } from '../support/watch.js';
import { assertStopped } from '../chaos/proof.js';

/**
 * The safety property against real redis-server and sentinels: only masters that Sentinel
 * confirmed (highest config-epoch, ROLE master) are ever presented, and each failover is one change.
 * Each test has its own cluster and watcher, stopped when that test ends: any test runs alone
 * (--test-name-pattern) and a failure does not carry over to the next.
 */
describe('sentinel watcher (real sentinels)', { timeout: 120000 }, () => {
  /** A fresh 1 master + 1 replica + 3 sentinels cluster and a watcher given only the first sentinel, master confirmed. */
  async function watched(t: TestContext, extra: Record<string, unknown> = {}) {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const first = cluster.sentinels[0]!;
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: first.host, port: first.port }], extra));
    cleanup.add(() => w.watcher.stop());
    await w.watcher.ready();
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'master confirmed' });
    const allAgree = (what: string) => waitFor(() => w.topology.get('testing')!.agreeingSentinels.length === 3, { timeoutMs: 20000, what });
    return { cluster, w, master, replica, allAgree };
  }

  it('discovers all three sentinels from one configured and confirms the master', async (t) => {
    const { cluster, w } = await watched(t);
    await waitFor(() => Object.values(w.watcher.sentinels()).filter((s) => s.state === 3).length === 3, { timeoutMs: 10000, what: '3 sentinels alive' });
    const sentinels = w.watcher.sentinels();
    assert.deepEqual(Object.keys(sentinels).sort(), cluster.sentinels.map((s) => `${s.host}:${s.port}`).sort());
    for (const s of Object.values(sentinels)) assert.deepEqual(s.clusters, ['testing']);
    assert.equal(w.changes.length, 1);
    assert.equal(w.changes[0]!.previous, null);
  });

  it('kill -9 of the master gives exactly one change, to the promoted replica', async (t) => {
    const { w, master, replica, allAgree } = await watched(t);
    const before = w.changes.length;
    await master.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 30000, what: 'failover to the replica' });
    // Every sentinel publishes +switch-master and is polled again: the duplicates have arrived once all agree.
    await waitFor(() => Object.values(w.watcher.sentinels()).every((s) => s.state === 3), { timeoutMs: 5000, what: 'sentinels alive' });
    await allAgree('all sentinels agree on the new master');
    assert.equal(w.changes.length, before + 1);
    const change = w.changes.at(-1)!;
    assert.equal(change.previous?.port, master.port);
    assert.equal(change.current.port, replica.port);
    assert.ok((change.configEpoch ?? 0) >= 1);
  });

  it('the old master restarted as a standalone master is never presented', async (t) => {
    const { w, master: oldMaster, replica, allAgree } = await watched(t);
    await oldMaster.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 30000, what: 'failover to the replica' });
    await allAgree('all sentinels agree on the new master');
    const before = w.changes.length;
    await oldMaster.restart();
    assert.equal(await oldMaster.role(), 'master', 'the restarted old master announces itself as master');
    // Sentinel demotes it to a replica of the new master; until and after that, we must stay on the new master.
    await waitFor(async () => (await oldMaster.role()) === 'slave', { timeoutMs: 30000, what: 'sentinel to demote the old master' });
    assert.equal(w.master('testing')?.port, replica.port);
    assert.equal(w.changes.length, before, 'no change while the old master announced itself');
  });

  it('a sentinel paused through a failover does not flip us back when it resumes (the watcher receives its stale view and refuses it)', async (t) => {
    // The link to the paused sentinel must not time out: the watcher's questions then wait in the
    // sentinel's sockets, and the first answers after the resume are its stale view.
    const { cluster, w, master, replica, allAgree } = await watched(t, { Watcher: { ...FAST_WATCHER, CommandTimeoutMs: 60000 } });
    const paused = cluster.sentinels[2]!;
    // The replica must be healthy (synced, seen by the sentinels) before it can be promoted.
    await waitFor(async () => /slave0:.*state=online/.test(await master.client().info('replication')), { timeoutMs: 30000, what: 'replica online' });
    await waitFor(async () => {
      const replicas = (await cluster.sentinels[0]!.client().call('SENTINEL', 'REPLICAS', 'testing')) as string[][];
      return replicas.some((r) => r.includes(String(replica.port)) && !r.join(' ').includes('s_down') && r.includes('master-link-status') && r[r.indexOf('master-link-status') + 1] === 'ok');
    }, { timeoutMs: 30000, what: 'sentinels see the replica as healthy' });
    paused.pause();
    await assertStopped(paused);
    const before = w.changes.length;
    await master.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 30000, what: 'failover while a sentinel is paused' });
    assert.equal(w.changes.length, before + 1);
    const confirmedEpoch = w.topology.get('testing')!.configEpoch!;
    paused.resume();
    // Settled: the resumed sentinel has published whatever its stale view held and now agrees.
    await allAgree('resumed sentinel catches up');
    assert.equal(w.master('testing')?.port, replica.port);
    assert.equal(w.changes.length, before + 1, 'no flip back');
    // The watcher itself received the stale view (the old master, below the confirmed epoch) and refused it.
    const stale = w.watcher.clusterStatus('testing').staleView;
    assert.ok(stale, 'the watcher received a stale view');
    assert.deepEqual([stale.sentinel, stale.port], [`${paused.host}:${paused.port}`, master.port]);
    assert.ok(stale.configEpoch < confirmedEpoch && stale.floor === confirmedEpoch, `epoch ${stale.configEpoch} below the confirmed ${confirmedEpoch}`);
  });

  it('all sentinels down keeps the last confirmed master; back up, no spurious change', async (t) => {
    const { cluster, w, allAgree } = await watched(t);
    await allAgree('all sentinels agree');
    const master = w.master('testing')!;
    const before = w.changes.length;
    await Promise.all(cluster.sentinels.map((s) => s.kill('SIGKILL')));
    await waitFor(() => Object.values(w.watcher.sentinels()).every((s) => s.state === 2), { timeoutMs: 10000, what: 'all sentinels marked down' });
    assert.deepEqual(w.master('testing'), master);
    await Promise.all(cluster.sentinels.map((s) => s.restart()));
    await waitFor(() => Object.values(w.watcher.sentinels()).every((s) => s.state === 3), { timeoutMs: 20000, what: 'all sentinels alive again' });
    await allAgree('views restored');
    assert.deepEqual(w.master('testing'), master);
    assert.equal(w.changes.length, before);
  });
});
