import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { command, testCleanup, startCluster, startRedis, waitFor } from '../harness/index.js';
import { FAST_WATCHER, startWatcher, testConfig } from '../support/watch.js';
import { restartAtEpoch } from '../support/epoch.js';

/**
 * Issue 12, second half (split from quorum.test.ts so that the two halves run side by side): groups
 * of 3 and 5, a rebuilt group, a reset, start-up through a discovered peer. Real redis-server and
 * sentinels throughout.
 */

const SAFE_DOWN_AFTER_MS = 3000;



describe('sentinel quorum: groups of 3 and 5, rebuilt groups, start-up', { timeout: 240000 }, () => {
  for (const size of [3, 5]) {
    it(`a group of ${size}: with ${Math.floor((size - 1) / 2)} sentinel(s) down a failover is still followed; with a majority down a lone sentinel's new master is held, with the reason shown`, async (t) => {
      const cleanup = testCleanup(t);
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: size, quorum: Math.floor(size / 2) + 1, downAfterMs: SAFE_DOWN_AFTER_MS });
      const master = cluster.masters.get('testing')!;
      const replica = cluster.replicas.get('testing')![0]!;
      // A 2 s command timeout, not FAST_WATCHER's 500 ms: on a loaded host (the suite at concurrency 4)
      // a live sentinel answering late was marked down for a moment, and its view's absence made a
      // warning this test rightly forbids for a normal failover. Killed sentinels refuse at once.
      const w = startWatcher(testConfig([{ name: 'testing' }], cluster.sentinels.map((s) => ({ host: s.host, port: s.port })), { Watcher: { ...FAST_WATCHER, CommandTimeoutMs: 2000 } }));
      cleanup.add(() => w.watcher.stop());
      await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'master confirmed' });
      assert.equal(w.watcher.clusterStatus('testing').quorum, Math.floor(size / 2) + 1);

      const minority = cluster.sentinels.slice(0, Math.floor((size - 1) / 2));
      for (const s of minority) await s.kill('SIGKILL');
      await waitFor(() => minority.every((s) => w.watcher.sentinels()[`${s.host}:${s.port}`]?.state === 2), { timeoutMs: 10000, what: 'the minority marked down' });
      const sinceKill = w.logLines.length;
      await master.kill('SIGKILL');
      await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 40000, what: 'the failover followed with a minority down' });
      // A failover going through its steps is said once, at info level: no warning for the normal case.
      const since = w.logLines.slice(sinceKill).map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string });
      const holds = since.filter((l) => l.msg === 'no new master confirmed');
      const downs = since.filter((l) => l.msg === 'sentinel is down');
      assert.ok(holds.length <= 1 && holds.every((l) => l.level === 30 && l.reason?.startsWith('failover in progress')), JSON.stringify({ holds, downs }));
      assert.ok(!(w.topology.get('testing')?.replicas ?? []).some((r) => r.port === replica.port), 'the new master is never listed as a replica');
      const followed = w.watcher.clusterStatus('testing');
      assert.equal(followed.knownSentinels, size, 'down sentinels still count in the denominator');
      assert.ok(followed.agreeingSentinels >= followed.quorum);

      // A majority down; the one left is told (by hand) to monitor another instance that really is a master.
      const survivors = cluster.sentinels.filter((s) => s.running);
      const majority = survivors.slice(0, survivors.length - 1);
      for (const s of majority) await s.kill('SIGKILL');
      const lone = survivors[survivors.length - 1]!;
      await waitFor(() => majority.every((s) => w.watcher.sentinels()[`${s.host}:${s.port}`]?.state === 2), { timeoutMs: 10000, what: 'the majority marked down' });
      // Losing the quorum shows at once, while the master stays the same.
      const lost = await waitFor(() => w.watcher.clusterStatus('testing').held?.reason, { timeoutMs: 10000, what: 'the lost quorum shown as held' });
      assert.match(lost, new RegExp(`quorum ${Math.floor(size / 2) + 1} of ${size} sentinels; no view from`));
      assert.equal(w.master('testing')?.port, replica.port);
      const other = await startRedis(cleanup);
      await command(lone, 'SENTINEL', 'REMOVE', 'testing');
      await command(lone, 'SENTINEL', 'MONITOR', 'testing', '127.0.0.1', String(other.port), '1');
      // The fault took place: the lone sentinel names `other` (a master) and the watcher saw it.
      await waitFor(() => w.watcher.clusterStatus('testing').views.some((v) => v.port === other.port), { timeoutMs: 10000, what: 'the lone view seen' });
      assert.equal(await other.role(), 'master');
      const held = await waitFor(() => {
        const h = w.watcher.clusterStatus('testing').held;
        return h?.reason.includes(`:${other.port}`) ? h : undefined;
      }, { timeoutMs: 10000, what: 'the change to be held' });
      assert.match(held.reason, new RegExp(`quorum ${followed.quorum} of ${size} sentinels`));
      assert.match(held.reason, new RegExp(`names 127\\.0\\.0\\.1:${other.port}`), 'the reason names what the sentinel claims');
      // Several more polls: still the last confirmed master.
      for (let i = 0; i < 5; i++) {
        const before = w.watcher.sentinels()[`${lone.host}:${lone.port}`]!.lastUpdated;
        await waitFor(() => w.watcher.sentinels()[`${lone.host}:${lone.port}`]!.lastUpdated !== before, { timeoutMs: 5000, what: 'another poll' });
        assert.equal(w.master('testing')?.port, replica.port, 'a lone sentinel moved the confirmed master');
      }
      assert.equal(w.logLines.filter((l) => l.includes('no new master confirmed') && l.includes(String(other.port))).length, 1, 'the hold is logged once, not per poll');
    });
  }

  it('a rebuilt sentinel group (fresh configs at epoch 0) is followed through its first failover without a restart', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    // The old group had seen several failovers: its epoch is 5.
    await restartAtEpoch(cluster, 5);
    await cluster.waitForSentinelsDiscovered();
    const w = startWatcher(testConfig([{ name: 'testing' }], cluster.sentinels.map((s) => ({ host: s.host, port: s.port }))));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port && w.topology.get('testing')?.configEpoch === 5, { timeoutMs: 15000, what: 'master confirmed at epoch 5' });

    // Rebuild: every sentinel replaced by a fresh one (new id, epoch 0) on the same address, monitoring the current master.
    for (const s of cluster.sentinels) {
      await s.kill('SIGKILL');
      writeFileSync(join(s.dir, 'sentinel.conf'), [`port ${s.port}`, `bind ${s.host}`, `dir ${s.dir}`, 'daemonize no', 'protected-mode no', 'logfile ""', `sentinel monitor testing 127.0.0.1 ${master.port} 2`, `sentinel down-after-milliseconds testing ${SAFE_DOWN_AFTER_MS}`, 'sentinel failover-timeout testing 3000', ''].join('\n'));
    }
    for (const s of cluster.sentinels) await s.restart();
    await cluster.waitForSentinelsDiscovered();
    assert.equal((await cluster.sentinelMaster('testing')).configEpoch, 0, 'the rebuilt group starts at epoch 0');
    // Pinned to the floor-lowering branch: the rebuilt group names the confirmed master at epoch 0,
    // and the floor follows it before any failover (not the reset branch, which would need the old
    // master to be gone).
    await waitFor(() => w.topology.get('testing')?.configEpoch === 0, { timeoutMs: 15000, what: 'the floor lowered to the rebuilt group\'s epoch' });
    assert.ok(w.logLines.some((l) => l.includes('names the confirmed master at a lower config-epoch')), 'the floor-lowering branch logged');
    await cluster.forceFailover('testing', cluster.sentinels[0]!);
    await waitFor(async () => (await cluster.sentinelMaster('testing')).port === replica.port, { timeoutMs: 30000, what: 'the rebuilt group failed over' });
    assert.ok((await cluster.sentinelMaster('testing')).configEpoch < 5, 'the new epoch is below the one confirmed before the rebuild');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 15000, what: `the watcher follows (confirmed epoch ${w.topology.get('testing')?.configEpoch})` });
    // An ordinary failover above the lowered floor, not a reset.
    assert.ok(!w.logLines.some((l) => l.includes('SENTINEL GROUP RESET')), 'no reset');
  });

  for (const oldMasterEnds of ['becomes a replica', 'is unreachable'] as const) {
  it(`a quorum at a lower epoch naming another instance is followed only once the old master is no longer one (reset: it ${oldMasterEnds}), never while it still is`, async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: 60000 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    await restartAtEpoch(cluster, 5);
    const w = startWatcher(testConfig([{ name: 'testing' }], cluster.sentinels.map((s) => ({ host: s.host, port: s.port }))));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port && w.topology.get('testing')?.configEpoch === 5, { timeoutMs: 15000, what: 'master confirmed at epoch 5' });

    // Split brain by hand: the replica is promoted, the old master stays a master; a rebuilt group names the replica at epoch 0.
    await command(replica, 'REPLICAOF', 'NO', 'ONE');
    for (const s of cluster.sentinels) {
      await command(s, 'SENTINEL', 'REMOVE', 'testing');
      await command(s, 'SENTINEL', 'MONITOR', 'testing', '127.0.0.1', String(replica.port), '2');
      await command(s, 'SENTINEL', 'SET', 'testing', 'down-after-milliseconds', '60000');
    }
    const held = await waitFor(() => {
      const h = w.watcher.clusterStatus('testing').held;
      return h?.reason.includes('still answers ROLE master') ? h : undefined;
    }, { timeoutMs: 15000, what: 'the reset to be held while the old master is still a master' });
    assert.match(held.reason, new RegExp(`127\\.0\\.0\\.1:${master.port} still answers ROLE master`));
    assert.equal(w.master('testing')?.port, master.port);

    assert.equal(held.code, 'below-floor');

    // The old master becomes a replica, or is gone: now it is a reset, and it is followed (loudly).
    if (oldMasterEnds === 'becomes a replica') await command(master, 'REPLICAOF', '127.0.0.1', String(replica.port));
    else {
      await master.kill('SIGKILL');
      assert.equal(await master.role().catch(() => 'unreachable'), 'unreachable', 'the old master is gone');
    }
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 15000, what: 'the reset followed' });
    assert.equal(w.topology.get('testing')?.configEpoch, 0);
    assert.ok(w.logLines.some((l) => l.includes('SENTINEL GROUP RESET')), 'logged loudly');
  });
  }

  it('start-up with one configured sentinel that has two peers: quorum 2, confirmed as soon as a discovered peer agrees', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const master = cluster.masters.get('testing')!;
    const configured = cluster.sentinels[0]!;
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: configured.host, port: configured.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'master confirmed' });
    const status = w.watcher.clusterStatus('testing');
    assert.equal(status.quorum, 2);
    assert.equal(status.knownSentinels, 3);
    const confirmed = w.topology.get('testing')!;
    assert.ok(confirmed.agreeingSentinels.length >= 2, `confirmed with ${confirmed.agreeingSentinels.join(', ')}`);
    assert.ok(confirmed.agreeingSentinels.some((s) => s !== `${configured.host}:${configured.port}`), 'a discovered peer agreed');
    // Order: the peers were discovered before the confirmation, which came with the first agreeing peer's view.
    const msgs = w.logLines.map((l) => JSON.parse(l) as { msg: string });
    const confirmedAt = msgs.findIndex((m) => m.msg === 'master confirmed');
    const discoveredAt = msgs.findIndex((m) => m.msg === 'discovered sentinel, watching it');
    assert.ok(discoveredAt >= 0 && discoveredAt < confirmedAt);
    assert.equal(w.changes.length, 1);
    // The replicas Sentinel knows reach the topology (template data for read-only backends).
    const replica = cluster.replicas.get('testing')![0]!;
    await waitFor(() => w.topology.get('testing')?.replicas?.map((r) => r.port).join() === String(replica.port), { timeoutMs: 10000, what: 'the replica listed in the topology' });
  });
});
