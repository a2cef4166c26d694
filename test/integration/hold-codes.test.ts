import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pidAlive, startCluster, testCleanup, waitFor } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';

/**
 * Issue 20: a hold carries a stable code beside its reason, in /api/topology, the events and the
 * metrics (redishappy_cluster_hold_info{code}). Real sentinels, HAProxy and daemon.
 */

interface TopologyEntry {
  name: string;
  port: number | null;
  held: { code: string; reason: string; since: string } | null;
}

describe('hold codes (real sentinels)', { timeout: 180000 }, () => {
  it('a majority of sentinels gone: held with code no-quorum in the API, the events and the metrics; released when they return', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const { daemon, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: true });
    const get = async (path: string) => (await fetch(`${api}${path}`)).text();
    const topology = async () => (JSON.parse(await get('/api/topology')) as TopologyEntry[])[0]!;
    const metricLines = async () => (await get('/metrics')).split('\n').filter((l) => l.startsWith('redishappy_cluster_hold'));
    const masterPort = cluster.masters.get('testing')!.port;

    // Confirmed, every sentinel discovered: not held, and no hold_info series.
    await waitFor(async () => (await topology()).held === null && daemon.logs().filter((l) => l.msg === 'discovered sentinel, watching it').length === 2, { timeoutMs: 20000, what: 'confirmed with both peers watched' });
    assert.equal((await topology()).port, masterPort);
    assert.deepEqual(await metricLines(), [], 'no hold series while not held');
    assert.ok((await get('/metrics')).includes('redishappy_cluster_held{cluster="testing"} 0'));

    // The fault: two of the three sentinels are gone.
    const [, b, c] = cluster.sentinels;
    await b!.kill('SIGKILL');
    await c!.kill('SIGKILL');
    assert.ok(!pidAlive(b!.pid!) && !pidAlive(c!.pid!), 'two sentinels are dead');

    const held = await waitFor(async () => (await topology()).held ?? undefined, { timeoutMs: 15000, what: 'the cluster held' });
    assert.equal(held.code, 'no-quorum', held.reason);
    assert.match(held.reason, /quorum 2 of 3/);
    assert.equal((await topology()).port, masterPort, 'the confirmed master is kept');
    await waitFor(async () => (await metricLines()).includes('redishappy_cluster_hold_info{cluster="testing",code="no-quorum"} 1'), { timeoutMs: 10000, what: 'the hold_info series' });
    const events = (JSON.parse(await get('/api/events')) as { events: Array<Record<string, unknown>> }).events;
    assert.ok(events.some((e) => e.type === 'hold' && e.cluster === 'testing' && e.code === 'no-quorum'), 'the hold event carries its code');
    const line = daemon.logs().find((l) => l.msg === 'no new master confirmed' && l.code === 'no-quorum');
    assert.ok(line, 'the log line carries the code');

    // They come back: released, and the series is gone.
    await b!.restart();
    await c!.restart();
    await waitFor(async () => (await topology()).held === null, { timeoutMs: 20000, what: 'the hold released' });
    await waitFor(async () => (await metricLines()).length === 0, { timeoutMs: 10000, what: 'the hold_info series removed' });
  });
});
