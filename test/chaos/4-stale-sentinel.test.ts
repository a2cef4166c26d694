import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig, waitRouted } from './setup.js';
import { summarize } from './scenario.js';
import { WriterPool } from './writer.js';

type Events = { events: Array<{ type: string; from: unknown }> };

/**
 * A sentinel paused through a failover comes back naming the old master at the old epoch. To
 * make that view as tempting as it gets, the old master is restarted first: it answers ROLE
 * master (standalone until Sentinel demotes it), so only the epoch rule keeps clients away.
 */
describe('chaos 4: a sentinel paused through a failover comes back with a stale view', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  it('no flip back, even while the stale view names a node that answers ROLE master', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const writers = new WriterPool(rig.ext, 'stale-sentinel', { patient: 1 });
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acked > 200, { timeoutMs: 10000, what: 'writes flowing' });

    const stale = rig.cluster.sentinels[2]!;
    stale.pause();
    await master.kill('SIGKILL');
    await waitRouted(rig.ext, replica.port, 30000, 'switch with one sentinel paused');
    await master.restart();
    assert.equal(await master.role(), 'master', 'the old master is back as a standalone master');
    stale.resume();
    const staleView = await rig.cluster.sentinelMaster('testing', stale).catch(() => null);
    console.log(`chaos-detail scenario=stale-sentinel stale_view_right_after_resume=${staleView ? `${staleView.port}@${staleView.configEpoch}` : 'none'} old_master=${master.port}`);

    // While the stale sentinel catches up (and until the old master is demoted), new connections keep going to the new master.
    const watchUntil = Date.now() + 3000;
    while (Date.now() < watchUntil) assert.equal(await routedTo(rig.ext), replica.port, 'flipped back to the old master');
    await waitFor(async () => (await rig.api<Array<{ agreeingSentinels: string[] }>>('/api/topology'))[0]!.agreeingSentinels.length === 3, { timeoutMs: 20000, what: 'the resumed sentinel agrees again' });
    const n = writers.acked;
    await waitFor(() => writers.acked > n + 300, { timeoutMs: 10000, what: 'writes after the stale sentinel is back' });
    await writers.stop();

    const events = await rig.api<Events>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'exactly one change, no flip back');
    const s = await summarize('stale-sentinel', writers, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
    assert.ok(writers.acks.every((a) => a.node !== master.port || a.at < rig.switches[0]!.at), 'the old master acknowledged nothing after the switch');
  });
  it('a sentinel restarted from its pre-failover configuration (old master, old epoch) while the old master is back: no flip back', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const writers = new WriterPool(rig.ext, 'stale-sentinel-restarted', { patient: 1 });
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acked > 200, { timeoutMs: 10000, what: 'writes flowing' });

    const stale = rig.cluster.sentinels[2]!;
    const confPath = join(stale.dir, 'sentinel.conf');
    const oldConf = readFileSync(confPath, 'utf8');
    await stale.kill('SIGKILL');
    await master.kill('SIGKILL');
    await waitRouted(rig.ext, replica.port, 30000, 'switch with two sentinels');
    await master.restart();
    assert.equal(await master.role(), 'master', 'the old master is back as a standalone master');
    writeFileSync(confPath, oldConf);
    await stale.restart();
    // How long the restarted sentinel names the old master, and what clients get meanwhile.
    const startedAt = Date.now();
    let staleUntil = startedAt;
    let staleEpoch = -1;
    let routedChecks = 0;
    // A plain loop, not waitFor: waitFor would retry a failed routing assertion away.
    const deadline = Date.now() + 20000;
    for (;;) {
      assert.equal(await routedTo(rig.ext), replica.port, 'flipped back to the old master');
      routedChecks++;
      const v = await rig.cluster.sentinelMaster('testing', stale).catch(() => null);
      if (v?.port === master.port) {
        staleUntil = Date.now();
        staleEpoch = v.configEpoch;
      } else if (v?.port === replica.port) break;
      assert.ok(Date.now() < deadline, 'the restarted sentinel did not catch up within 20 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    // The fault took place: the restarted sentinel named the old master, at an older epoch, while clients were checked.
    assert.ok(staleEpoch >= 0, 'the restarted sentinel never reported the stale view (the fault did not happen)');
    const confirmedEpoch = (await rig.api<Array<{ configEpoch: number }>>('/api/topology'))[0]!.configEpoch;
    assert.ok(staleEpoch < confirmedEpoch, `stale epoch ${staleEpoch} is older than the confirmed ${confirmedEpoch}`);
    assert.ok(routedChecks > 1);
    console.log(`chaos-detail scenario=stale-sentinel-restarted stale_view=${staleEpoch >= 0 ? `old-master@epoch${staleEpoch}` : 'none'} stale_view_ms=${staleUntil - startedAt} routing_checks_meanwhile=${routedChecks}`);
    for (let i = 0; i < 20; i++) assert.equal(await routedTo(rig.ext), replica.port);
    const n = writers.acked;
    await waitFor(() => writers.acked > n + 300, { timeoutMs: 10000, what: 'writes after the stale sentinel is back' });
    await writers.stop();

    const events = await rig.api<Events>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'exactly one change, no flip back');
    const s = await summarize('stale-sentinel-restarted', writers, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
  });
});
