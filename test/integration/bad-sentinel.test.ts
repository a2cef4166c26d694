import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { StandInSentinel, type StandInMode } from '../support/stand-in-sentinel.js';
import { startWatcher, testConfig } from '../support/watch.js';

/**
 * A misbehaving sentinel (stand-in) configured next to a real one of a real cluster: it is marked
 * down, logged once per state change, and never crashes the daemon or changes the confirmed master.
 */
describe('misbehaving sentinel (stand-in) next to a real one', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('malformed, truncated, oversized, wrongly typed, slow, resetting, placeholder and lying answers change nothing', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 1 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const bad = new StandInSentinel('testing');
    await bad.start();
    cleanup.add(() => bad.stop());
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: '127.0.0.1', port: cluster.sentinels[0]!.port }, { host: '127.0.0.1', port: bad.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'real master confirmed' });
    const badKey = `127.0.0.1:${bad.port}`;
    const state = () => w.watcher.sentinels()[badKey]?.state;

    // Placeholders (0.0.0.0:0) and a liar naming the replica, both at a huge epoch: the sentinel is
    // "alive" but the rule and the ROLE probe keep the real master.
    for (const mode of ['placeholder', 'liar'] as const) {
      bad.mode = mode;
      bad.liarAddress = { ip: '127.0.0.1', port: replica.port };
      bad.kick();
      await waitFor(() => state() === 3, { timeoutMs: 10000, what: `${mode}: stand-in polled` });
      if (mode === 'liar') await waitFor(() => w.logLines.some((l) => l.includes('answers ROLE slave')), { timeoutMs: 10000, what: 'liar: hold logged' });
      else {
        const polled = w.watcher.sentinels()[badKey]!.lastUpdated;
        await waitFor(() => w.watcher.sentinels()[badKey]!.lastUpdated !== polled, { timeoutMs: 5000, what: 'placeholder: polled again' });
      }
      assert.equal(w.master('testing')?.port, master.port, `${mode} changed the master`);
    }

    for (const mode of ['malformed', 'wrongtype', 'truncated', 'oversized', 'slow', 'reset'] as StandInMode[]) {
      bad.mode = mode;
      bad.kick();
      await waitFor(() => state() === 2, { timeoutMs: 10000, what: `${mode}: stand-in marked down` });
      // Let it fail a few reconnect rounds.
      const seen = bad.connections;
      await waitFor(() => bad.connections >= seen + 4, { timeoutMs: 15000, what: `${mode}: reconnect attempts` });
      assert.equal(w.master('testing')?.port, master.port, `${mode} changed the master`);
      assert.equal(w.changes.length, 1);
    }
    const downLines = w.logLines.filter((l) => l.includes('"sentinel is down"') && l.includes(badKey)).length;
    assert.ok(downLines <= 8, `"sentinel is down" logged ${downLines} times for 6 down periods: once per state change, not per attempt`);
    // The real sentinel never stopped being alive.
    assert.equal(w.watcher.sentinels()[`127.0.0.1:${cluster.sentinels[0]!.port}`]?.state, 3);
  });
});
