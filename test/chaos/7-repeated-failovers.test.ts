import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { medianMax, summarize, type Switch } from './scenario.js';
import { WriterPool } from './writer.js';

const ROUNDS = Number(process.env.CHAOS_FAILOVERS ?? 20);

describe(`chaos 7: ${ROUNDS} failovers in a row (SENTINEL FAILOVER)`, { timeout: 300000 }, () => {
  const cleanup = useCleanup();
  it('every one is followed, one change each, and the final state is correct', async () => {
    // Two replicas: while one just-demoted master resyncs, the other is ready to be promoted.
    const rig = await chaosRig(cleanup, { replicas: 2 });
    const writers = new WriterPool(rig.ext, 'repeated-failovers');
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acked > 200, { timeoutMs: 10000, what: 'writes flowing' });
    let current = rig.cluster.masters.get('testing')!.port;
    const switches: Switch[] = [];
    const followMs: number[] = [];
    const issued: number[] = [];
    const initialEpoch = (await rig.cluster.sentinelMaster('testing')).configEpoch;
    const epochs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const issuedAt = Date.now();
      await rig.cluster.forceFailover('testing', rig.cluster.sentinels[i % 3]!);
      // Sentinel picks the replica; follow whichever it promoted, from the first announcement on.
      const first = await waitFor(() => rig.messages.find((m) => m.at >= issuedAt && m.master !== current), { timeoutMs: 30000, intervalMs: 2, what: `failover ${i + 1} announced` });
      await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === first.master, { timeoutMs: 30000, intervalMs: 2, what: `failover ${i + 1} followed by HAProxy` });
      followMs.push(Date.now() - first.at);
      switches.push({ at: first.at, master: first.master });
      issued.push(issuedAt);
      // The failover really happened: the announcing sentinel names the new master at a higher
      // epoch than the round before, and the daemon confirmed it at that epoch.
      const announcer = rig.cluster.sentinels.find((x) => x.port === first.sentinel)!;
      const view = await rig.cluster.sentinelMaster('testing', announcer);
      assert.equal(view.port, first.master, `round ${i + 1}: the announcing sentinel names the new master`);
      assert.ok(view.configEpoch > (epochs.at(-1) ?? initialEpoch), `round ${i + 1}: epoch ${view.configEpoch} did not increase`);
      const topo = (await rig.api<Array<{ port: number; configEpoch: number }>>('/api/topology'))[0]!;
      assert.deepEqual([topo.port, topo.configEpoch], [first.master, view.configEpoch], `round ${i + 1}: the daemon confirmed the new master at the new epoch`);
      epochs.push(view.configEpoch);
      assert.notEqual(first.master, current, `round ${i + 1}: the master changed`);
      current = first.master;
    }
    assert.equal(epochs.length, ROUNDS);
    assert.ok(epochs.at(-1)! - initialEpoch >= ROUNDS, `${ROUNDS} failovers raised the epoch from ${initialEpoch} to only ${epochs.at(-1)}`);
    assert.ok(rig.switches.length >= ROUNDS, `the test's own subscribers saw ${rig.switches.length} switches for ${ROUNDS} failovers`);
    const n = writers.acked;
    await waitFor(() => writers.acked > n + 200, { timeoutMs: 10000, what: 'writes after the last failover' });
    await writers.stop();

    const sentinelView = await rig.cluster.sentinelMaster('testing');
    assert.equal(sentinelView.port, current, 'Sentinel agrees on the final master');
    const topo = await rig.api<Array<{ port: number; configEpoch: number }>>('/api/topology');
    assert.equal(topo[0]!.port, current);
    assert.equal(topo[0]!.configEpoch, sentinelView.configEpoch);
    const events = await rig.api<{ events: Array<{ type: string; from: unknown }> }>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, ROUNDS, 'exactly one change per failover');
    // A forced failover leaves the old master up and writable until Sentinel demotes it, so writes
    // in flight in the few ms between the announcement and HAProxy switching can land on it; the
    // summary reports them. Everything the new master acknowledged after the last switch must be there.
    const s = await summarize('repeated-failovers', writers, switches, current);
    assert.equal(s.lost_after_switch, 0);
    assert.ok(s.acked_by_unconfirmed_master < ROUNDS * 100, `too many writes (${s.acked_by_unconfirmed_master}) reached an old master after its switch: propagation is slow`);
    // How long after the first sentinel a second one announced the same switch (when one did before the next round).
    const spreadMs = switches.flatMap((sw, i) => {
      const copies = rig.messages.filter((m) => m.at >= issued[i]! && m.at < (issued[i + 1] ?? Infinity) && m.master === sw.master).map((m) => m.at).sort((a, b) => a - b);
      return copies.length >= 2 ? [copies[1]! - copies[0]!] : [];
    });
    const f = medianMax(followMs);
    const sp = medianMax(spreadMs);
    console.log(`chaos-detail scenario=repeated-failovers rounds=${ROUNDS} follow_ms_median=${f.median} follow_ms_max=${f.max} second_sentinel_announces_after_ms_median=${sp.median} second_sentinel_announces_after_ms_max=${sp.max} rounds_with_a_second_announcement=${spreadMs.length}`);
  });
});
