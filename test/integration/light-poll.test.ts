import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { FAST_WATCHER, startWatcher, testConfig } from '../support/watch.js';

/**
 * The cheap poll (INFO sentinel, compared with the text seen at the last full poll) against real
 * sentinels: idle polls read no master records, and a failover is still followed when every
 * pub/sub message is lost, because the address in INFO changes and a full poll follows.
 */
describe('cheap polls between full ones (real sentinels)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('idle polls are cheap, and a failover is followed through the polls alone when every message is lost', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const first = cluster.sentinels[0]!;
    const key = `${first.host}:${first.port}`;
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: first.host, port: first.port }], { Watcher: { ...FAST_WATCHER, DiscoveryIntervalMs: 60000 } }));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'master confirmed' });

    // Idle: cheap polls, and the full ones only as often as the 10 s ceiling (here: none yet).
    const full0 = w.watcher.sentinels()[key]!.fullPolls;
    await waitFor(() => w.watcher.sentinels()[key]!.lightPolls >= 10, { timeoutMs: 10000, what: '10 cheap polls' });
    assert.ok(w.watcher.sentinels()[key]!.fullPolls - full0 <= 1, `${w.watcher.sentinels()[key]!.fullPolls - full0} full polls while idle`);

    // The fault: every pub/sub message is dropped before the watcher sees it.
    let dropped = 0;
    w.watcher.onMessage = () => void dropped++;
    await master.kill('SIGKILL');
    assert.equal(master.running, false, 'the master really died');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 40000, what: 'the failover followed through the polls' });
    assert.ok(dropped > 0, 'Sentinel did publish messages, and they were all dropped');
    assert.ok(w.watcher.sentinels()[key]!.fullPollsOnChange >= 1, 'a change seen in INFO sentinel caused a full poll');
    assert.equal(w.changes.at(-1)?.previous?.port, master.port);
  });
});
