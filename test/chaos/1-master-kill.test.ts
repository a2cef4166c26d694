import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

describe('chaos 1: master kill -9, failover, old master back as a standalone master', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  it('no write is acknowledged by the old master after the switch', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const writers = new WriterPool(rig.ext, 'c1');
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acks.length > 200, { timeoutMs: 10000, what: 'writes flowing' });
    await master.kill('SIGKILL');
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: 'switch' });
    await master.restart(); // announces itself as master until Sentinel demotes it
    await waitFor(async () => {
      const c = master.client();
      try {
        return ((await c.call('ROLE')) as string[])[0] === 'slave';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    }, { timeoutMs: 30000, what: 'old master demoted' });
    const n = writers.acks.length;
    await waitFor(() => writers.acks.length > n + 200, { timeoutMs: 10000, what: 'more writes' });
    await writers.stop();
    const s = await summarize('master-kill-restart', writers.acks, rig.switches, replica.port);
    assert.equal(rig.switches.length, 1);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
    assert.ok(writers.acks.every((a) => a.at < rig.switches[0]!.at || a.node === replica.port), 'every write after the switch went to the new master');
  });
});
