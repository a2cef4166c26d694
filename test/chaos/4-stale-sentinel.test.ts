import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

describe('chaos 4: a sentinel paused through a failover comes back with a stale view', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  it('no flip back', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const writers = new WriterPool(rig.ext, 'c4');
    cleanup.add(() => writers.stop());
    const stale = rig.cluster.sentinels[2]!;
    stale.pause();
    await master.kill('SIGKILL');
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: 'switch with one sentinel paused' });
    stale.resume();
    await waitFor(async () => {
      const t = await rig.api<Array<{ agreeingSentinels: string[] }>>('/api/topology');
      return t[0]!.agreeingSentinels.length === 3;
    }, { timeoutMs: 20000, what: 'the resumed sentinel catches up' });
    for (let i = 0; i < 20; i++) assert.equal(await routedTo(rig.ext), replica.port);
    const n = writers.acks.length;
    await waitFor(() => writers.acks.length > n + 300, { timeoutMs: 10000, what: 'writes after the stale sentinel is back' });
    await writers.stop();
    const events = await rig.api<{ events: Array<{ type: string; from: unknown }> }>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'exactly one failover, no flip back');
    const s = await summarize('stale-sentinel', writers.acks, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
  });
});
