import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { assertDead, assertRefused, routingStays, Watch } from './proof.js';
import { summarize } from './scenario.js';
import { WriterPool } from './writer.js';

type Sentinels = { sentinels: Record<string, { state: number; lastUpdated: string }> };
type Events = { events: Array<{ type: string; from?: unknown }> };

describe('chaos 3: sentinels lost and restarted', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  it('one down, all down, all back: the confirmed master stays in service, nothing flaps, no reload, no switch', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const writers = new WriterPool(rig.ext, 'sentinels-lost');
    cleanup.add(() => writers.stop());
    const states = async () => Object.values((await rig.api<Sentinels>('/api/sentinels')).sentinels).map((s) => s.state);
    await waitFor(async () => (await states()).filter((s) => s === 3).length === 3, { timeoutMs: 10000, what: 'all three sentinels alive (two discovered)' });
    const reloads = rig.reloads();
    const before = await rig.haproxyDetails();
    const file = readFileSync(rig.setup.outputPath, 'utf8');
    const topology = async () => (await rig.api<Array<{ port: number | null }>>('/api/topology'))[0]!.port;
    /**
     * Wait until the daemon has been through `rounds` more rounds with every sentinel in `state`
     * (2: a reconnect attempt failed; 3: a poll answered): each round stamps the sentinel's
     * lastUpdated, so that many new stamps per sentinel are the event that proves time passed
     * in that state, rather than a fixed sleep.
     */
    const waitRounds = async (state: number, rounds: number, what: string) => {
      const seen = new Map<string, Set<string>>();
      await waitFor(async () => {
        const all = Object.entries((await rig.api<Sentinels>('/api/sentinels')).sentinels);
        for (const [loc, s] of all) if (s.state === state) (seen.get(loc) ?? seen.set(loc, new Set()).get(loc)!).add(s.lastUpdated);
        return all.length === 3 && all.every(([loc]) => (seen.get(loc)?.size ?? 0) > rounds);
      }, { timeoutMs: 20000, intervalMs: 20, what });
    };
    // At every moment from here to the end: the master stays presented and routed to.
    const presented = new Watch('the last confirmed master stays presented', async () => {
      const port = await topology();
      return port === master.port ? undefined : `presented ${port}`;
    }, 20);
    const routing = routingStays(rig.ext, master.port, 'routing stays on the master');
    cleanup.add(() => presented.stop());
    cleanup.add(() => routing.stop());

    await rig.cluster.sentinels[0]!.kill('SIGKILL');
    assertDead(rig.cluster.sentinels[0]!);
    await assertRefused(rig.cluster.sentinels[0]!.port, 'the killed sentinel');
    await waitFor(async () => (await states()).filter((s) => s === 2).length === 1, { timeoutMs: 10000, what: 'one marked down' });
    let n = writers.acked;
    await waitFor(() => writers.acked > n + 200, { timeoutMs: 10000, what: 'writes with one sentinel down' });

    await Promise.all(rig.cluster.sentinels.slice(1).map((s) => s.kill('SIGKILL')));
    for (const s of rig.cluster.sentinels) {
      assertDead(s);
      await assertRefused(s.port, 'every sentinel killed');
    }
    await waitFor(async () => (await states()).every((s) => s === 2), { timeoutMs: 10000, what: 'all marked down' });
    // Stay without any sentinel through several reconnect rounds; nothing may move (the watches above check).
    await waitRounds(2, 3, 'three failed reconnect rounds to every sentinel');
    for (const s of rig.cluster.sentinels) await assertRefused(s.port, 'every sentinel still unreachable after the reconnect rounds');
    n = writers.acked;
    await waitFor(() => writers.acked > n + 200, { timeoutMs: 10000, what: 'writes continue with every sentinel down' });

    await Promise.all(rig.cluster.sentinels.map((s) => s.restart()));
    await waitFor(async () => (await states()).filter((s) => s === 3).length === 3, { timeoutMs: 20000, what: 'all alive again' });
    await waitRounds(3, 3, 'three answered poll rounds from every sentinel');
    n = writers.acked;
    await waitFor(() => writers.acked > n + 200, { timeoutMs: 10000, what: 'writes after the restart' });
    await writers.stop();
    await presented.stopAndAssert();
    await routing.stopAndAssert();

    assert.equal(await topology(), master.port);
    assert.equal((await rig.cluster.sentinelMaster('testing')).port, master.port, 'Sentinel did not fail over either');
    assert.equal(rig.reloads(), reloads, 'no reload');
    const after = await rig.haproxyDetails();
    for (const k of ['writes', 'reloads', 'runtimeSwitches', 'runtimeFailures', 'reloadFailures'] as const) assert.equal(after[k], before[k], `HAProxy output ${k} unchanged`);
    assert.equal(readFileSync(rig.setup.outputPath, 'utf8'), file, 'HAProxy file unchanged');
    const events = await rig.api<Events>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 0, 'no change of master');
    assert.ok(writers.acks.every((a) => a.node === master.port), 'every write went to the one master');
    const s = await summarize('sentinels-lost-and-restarted', writers, rig.switches, master.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.ok(s.unavailable_ms < 2000, `writes stalled for ${s.unavailable_ms} ms with only sentinels failing`);
  });
});
