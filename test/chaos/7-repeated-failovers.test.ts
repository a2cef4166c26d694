import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

const ROUNDS = Number(process.env.CHAOS_FAILOVERS ?? 20);

describe(`chaos 7: ${ROUNDS} failovers in a row (SENTINEL FAILOVER)`, { timeout: 300000 }, () => {
  const cleanup = useCleanup();
  it('every one is followed and the final state is correct', async () => {
    // Two replicas: while one just-demoted master resyncs, the other is ready to be promoted.
    const rig = await chaosRig(cleanup, { replicas: 2 });
    const nodes = [rig.cluster.masters.get('testing')!, ...rig.cluster.replicas.get('testing')!];
    const writers = new WriterPool(rig.ext, 'c7', 2);
    cleanup.add(() => writers.stop());
    let current = nodes[0]!;
    const switches: Array<{ at: number; master: number }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const issuedAt = Date.now();
      const s = rig.cluster.sentinels[i % 3]!.client();
      await waitFor(async () => (await s.call('SENTINEL', 'FAILOVER', 'testing').then(() => true, () => false)), { timeoutMs: 30000, intervalMs: 100, what: `failover ${i + 1} accepted` });
      s.disconnect();
      // Sentinel picks the replica; follow whichever it promoted.
      const promoted = await waitFor(async () => {
        const v = await rig.cluster.sentinelMaster('testing');
        return v.port !== current.port ? v.port : undefined;
      }, { timeoutMs: 30000, what: `failover ${i + 1} done by Sentinel` });
      await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === promoted, { timeoutMs: 30000, what: `failover ${i + 1} followed` });
      current = nodes.find((n) => n.port === promoted)!;
      // The switch happened when the first sentinel announced it (later copies from others are late echoes).
      const first = rig.messages.find((m) => m.at >= issuedAt && m.master === promoted);
      switches.push({ at: first?.at ?? Date.now(), master: promoted });
    }
    await writers.stop();
    const sentinelView = await rig.cluster.sentinelMaster('testing');
    assert.equal(sentinelView.port, current.port, 'Sentinel agrees on the final master');
    const topo = await rig.api<Array<{ port: number; configEpoch: number }>>('/api/topology');
    assert.equal(topo[0]!.port, current.port);
    assert.equal(topo[0]!.configEpoch, sentinelView.configEpoch);
    const events = await rig.api<{ events: Array<{ type: string; from: unknown }> }>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, ROUNDS, 'one change per failover');
    assert.equal(switches.length, ROUNDS);
    // A forced failover leaves the old master up and writable until Sentinel demotes it, so writes
    // in flight in the few ms between the announcement and HAProxy switching can land on it; the
    // summary reports them. What the new master acknowledged after a switch must all be there.
    const s = await summarize('repeated-failovers', writers.acks, switches, current.port);
    assert.equal(s.lost_after_switch, 0);
    assert.ok(s.acked_by_unconfirmed_master < ROUNDS * 100, `too many writes (${s.acked_by_unconfirmed_master}) reached an old master after its switch: propagation is slow`);
  });
});
