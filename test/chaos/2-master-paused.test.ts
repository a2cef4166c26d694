import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

describe('chaos 2: master paused (SIGSTOP) through a failover, then resumed', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  it('the partitioned old master acknowledges nothing through HAProxy after the switch, even on connections opened before', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const writers = new WriterPool(rig.ext, 'c2', 4);
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acks.length > 200, { timeoutMs: 10000, what: 'writes flowing' });
    master.pause();
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: 'switch' });
    master.resume();
    const n = writers.acks.length;
    await waitFor(() => writers.acks.length > n + 300, { timeoutMs: 15000, what: 'writes after resume' });
    await writers.stop();
    const s = await summarize('master-paused-resumed', writers.acks, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
  });
});
