import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, testCleanup } from '../harness/index.js';
import { assertMarkedDown, chaosRig, waitRole, waitRouted, waitSentinelMoved } from './setup.js';
import { assertDead, routingStays, Watch } from './proof.js';
import { summarize } from './scenario.js';
import { WriterPool } from './writer.js';

/**
 * The original README's FAQ: the master dies, Sentinel fails over, and the old master comes back
 * announcing itself as master (it accepts writes for seconds until Sentinel demotes it; those
 * writes would be lost). Clients must never be sent to it.
 */
describe('chaos 1: master kill -9, failover, old master restarted as a standalone master', { timeout: 120000 }, () => {

  for (const mode of ['runtime', 'reload'] as const) {
    it(`${mode} mode: 0 writes acknowledged by the old master after the switch`, async (t) => {
      const cleanup = testCleanup(t);
      const rig = await chaosRig(cleanup, { runtime: mode === 'runtime' });
      const master = rig.cluster.masters.get('testing')!;
      const replica = rig.cluster.replicas.get('testing')![0]!;
      const name = mode === 'runtime' ? 'master-kill-restart' : 'master-kill-restart-reload-mode';
      const writers = new WriterPool(rig.ext, name, { patient: 1 });
      cleanup.add(() => writers.stop());
      await waitFor(() => writers.acked > 300, { timeoutMs: 10000, what: 'writes flowing' });

      await master.kill('SIGKILL');
      assertDead(master); // the fault: the master's process is gone
      assert.equal(await waitSentinelMoved(rig.cluster, master.port), replica.port);
      await waitFor(() => rig.switches.length > 0, { timeoutMs: 5000, what: '+switch-master seen' });
      assertMarkedDown(rig, master.port); // and Sentinel judged it down before switching
      await waitRouted(rig.ext, replica.port, 15000, 'HAProxy follows the failover');
      // From here to the end, at every moment: new connections reach the new master, and the daemon presents it.
      const routing = routingStays(rig.ext, replica.port, 'routing after the switch');
      const presented = new Watch('the daemon presents the new master', async () => {
        const port = (await rig.api<Array<{ port: number | null }>>('/api/topology'))[0]!.port;
        return port === replica.port ? undefined : `presented ${port}`;
      }, 20);
      cleanup.add(() => routing.stop());
      cleanup.add(() => presented.stop());

      // Back as a standalone master: the dangerous window.
      await master.restart();
      assert.equal(await master.role(), 'master', 'the restarted old master announces itself as master (the FAQ case)');
      const during = writers.acked;
      await waitFor(() => writers.acked > during + 200, { timeoutMs: 10000, what: 'writes while the old master is a standalone master' });
      assert.equal(await master.role(), 'master', 'those writes were made while the old master still answered ROLE master');
      await waitRole(master, 'slave', 30000); // Sentinel demotes it (after ~8 s)
      const n = writers.acked;
      await waitFor(() => writers.acked > n + 200, { timeoutMs: 10000, what: 'writes after the demotion' });
      await writers.stop();
      await routing.stopAndAssert();
      await presented.stopAndAssert();

      const s = await summarize(name, writers, rig.switches, replica.port);
      assert.equal(rig.switches.length, 1, 'one switch');
      assert.equal(s.acked_by_unconfirmed_master, 0);
      assert.equal(s.lost_after_switch, 0);
      assert.ok(writers.acks.every((a) => a.node === replica.port || a.at < rig.switches[0]!.at), 'every write acknowledged after the switch came from the new master');
      const events = await rig.api<{ events: Array<{ type: string; from: unknown }> }>('/api/events');
      assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'one confirmed change, no flip back');
    });
  }
});
