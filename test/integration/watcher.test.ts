import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, useCleanup, waitFor, type ClusterFixture } from '../harness/index.js';
import { startWatcher, testConfig } from '../support/watch.js';

/**
 * The safety property against real redis-server and sentinels: only masters that Sentinel
 * confirmed (highest config-epoch, ROLE master) are ever presented, and each failover is one change.
 */
describe('sentinel watcher (real sentinels)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  let cluster: ClusterFixture;
  let w: ReturnType<typeof startWatcher>;

  it('discovers all three sentinels from one configured and confirms the master', async () => {
    cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const first = cluster.sentinels[0]!;
    w = startWatcher(testConfig([{ name: 'testing' }], [{ host: first.host, port: first.port }]));
    cleanup.add(() => w.watcher.stop());
    await w.watcher.ready();
    const master = cluster.masters.get('testing')!;
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 5000, what: 'master confirmed' });
    await waitFor(() => Object.values(w.watcher.sentinels()).filter((s) => s.state === 3).length === 3, { timeoutMs: 10000, what: '3 sentinels alive' });
    const sentinels = w.watcher.sentinels();
    assert.deepEqual(Object.keys(sentinels).sort(), cluster.sentinels.map((s) => `${s.host}:${s.port}`).sort());
    for (const s of Object.values(sentinels)) assert.deepEqual(s.clusters, ['testing']);
    assert.equal(w.changes.length, 1);
    assert.equal(w.changes[0]!.previous, null);
  });

  it('kill -9 of the master gives exactly one change, to the promoted replica', async () => {
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const before = w.changes.length;
    await master.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 30000, what: 'failover to the replica' });
    // Every sentinel publishes +switch-master and is polled again: give the duplicates time to arrive.
    await waitFor(() => Object.values(w.watcher.sentinels()).every((s) => s.state === 3), { timeoutMs: 5000, what: 'sentinels alive' });
    const agreeing = await waitFor(() => (w.topology.get('testing')!.agreeingSentinels.length === 3 ? w.topology.get('testing')!.agreeingSentinels : undefined), {
      timeoutMs: 10000,
      what: 'all sentinels agree on the new master',
    });
    assert.equal(agreeing.length, 3);
    assert.equal(w.changes.length, before + 1);
    const change = w.changes.at(-1)!;
    assert.equal(change.previous?.port, master.port);
    assert.equal(change.current.port, replica.port);
    assert.ok((change.configEpoch ?? 0) >= 1);
  });

  it('the old master restarted as a standalone master is never presented', async () => {
    const oldMaster = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const before = w.changes.length;
    await oldMaster.restart();
    assert.equal(await oldMaster.role(), 'master', 'the restarted old master announces itself as master');
    // Sentinel demotes it to a replica of the new master; until and after that, we must stay on the new master.
    await waitFor(async () => (await oldMaster.role()) === 'slave', { timeoutMs: 30000, what: 'sentinel to demote the old master' });
    assert.equal(w.master('testing')?.port, replica.port);
    assert.equal(w.changes.length, before, 'no change while the old master announced itself');
  });

  it('a sentinel paused through a failover does not flip us back when it resumes', async () => {
    const paused = cluster.sentinels[2]!;
    const current = w.master('testing')!;
    const currentNode = cluster.nodeByPort(current.port)!;
    const other = cluster.nodeByPort(current.port === cluster.masters.get('testing')!.port ? cluster.replicas.get('testing')![0]!.port : cluster.masters.get('testing')!.port)!;
    // The demoted old master must be a healthy replica (synced, seen by the sentinels) before it can be promoted.
    await waitFor(async () => /slave0:.*state=online/.test(await currentNode.client().info('replication')), { timeoutMs: 30000, what: 'replica online' });
    await waitFor(async () => {
      const replicas = (await cluster.sentinels[0]!.client().call('SENTINEL', 'REPLICAS', 'testing')) as string[][];
      return replicas.some((r) => r.includes(String(other.port)) && !r.join(' ').includes('s_down') && r.includes('master-link-status') && r[r.indexOf('master-link-status') + 1] === 'ok');
    }, { timeoutMs: 30000, what: 'sentinels see the replica as healthy' });
    paused.pause();
    await waitFor(() => w.watcher.sentinels()[`${paused.host}:${paused.port}`]?.state === 2, { timeoutMs: 10000, what: 'paused sentinel marked down' });
    const before = w.changes.length;
    await currentNode.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === other.port, { timeoutMs: 30000, what: 'second failover' });
    assert.equal(w.changes.length, before + 1);
    paused.resume();
    await waitFor(() => w.watcher.sentinels()[`${paused.host}:${paused.port}`]?.state === 3, { timeoutMs: 15000, what: 'resumed sentinel alive again' });
    // Let it publish whatever its stale view holds and be polled a few times.
    await waitFor(() => w.topology.get('testing')!.agreeingSentinels.length === 3, { timeoutMs: 20000, what: 'resumed sentinel catches up' });
    assert.equal(w.master('testing')?.port, other.port);
    assert.equal(w.changes.length, before + 1, 'no flip back');
    await currentNode.restart();
  });

  it('all sentinels down keeps the last confirmed master; back up, no spurious change', async () => {
    const master = w.master('testing')!;
    const before = w.changes.length;
    await Promise.all(cluster.sentinels.map((s) => s.kill('SIGKILL')));
    await waitFor(() => Object.values(w.watcher.sentinels()).every((s) => s.state === 2), { timeoutMs: 10000, what: 'all sentinels marked down' });
    assert.deepEqual(w.master('testing'), master);
    await Promise.all(cluster.sentinels.map((s) => s.restart()));
    await waitFor(() => Object.values(w.watcher.sentinels()).every((s) => s.state === 3), { timeoutMs: 20000, what: 'all sentinels alive again' });
    await waitFor(() => w.topology.get('testing')!.agreeingSentinels.length === 3, { timeoutMs: 20000, what: 'views restored' });
    assert.deepEqual(w.master('testing'), master);
    assert.equal(w.changes.length, before);
  });

});
