import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { routedTo, waitFor, type ClusterFixture, type RedisNode, testCleanup } from '../harness/index.js';
import { assertMarkedDown, chaosRig, waitRouted } from './setup.js';
import { assertDead, assertStopped, routingStays } from './proof.js';
import { summarize } from './scenario.js';
import { WriterPool } from './writer.js';

type Events = { events: Array<{ type: string; from: unknown }> };

/**
 * Until `stale` names `to`: ask it for its view, and after each answer check where HAProxy sends a
 * new connection (it must be `to`, whatever the view). Returns the stale epoch seen (-1: never),
 * how long the stale view lasted and how many routing checks followed a stale answer.
 */
async function checkWhileStale(ext: number, cluster: ClusterFixture, stale: RedisNode, from: number, to: number) {
  const startedAt = Date.now();
  const deadline = startedAt + 20000;
  let staleEpoch = -1;
  let staleUntil = startedAt;
  let checksWhileStale = 0;
  for (;;) {
    const v = await cluster.sentinelMaster('testing', stale).catch(() => null);
    const isStale = v?.port === from;
    if (isStale) {
      staleEpoch = v.configEpoch;
      staleUntil = Date.now();
    }
    assert.equal(await routedTo(ext), to, 'flipped back to the old master');
    if (isStale) checksWhileStale++;
    if (v?.port === to) break;
    assert.ok(Date.now() < deadline, 'the stale sentinel did not catch up within 20 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return { staleEpoch, staleMs: staleUntil - startedAt, checksWhileStale };
}

/**
 * A sentinel paused through a failover comes back naming the old master at the old epoch. To
 * make that view as tempting as it gets, the old master is restarted first: it answers ROLE
 * master (standalone until Sentinel demotes it), so only the epoch rule keeps clients away.
 */
describe('chaos 4: a sentinel paused through a failover comes back with a stale view', { timeout: 120000 }, () => {
  it('no flip back, even while the stale view names a node that answers ROLE master', async (t) => {
    const cleanup = testCleanup(t);
    // The daemon's link to the paused sentinel must not time out: its questions then wait in the
    // sentinel's sockets like the probe's, and the daemon itself receives the stale answer.
    const rig = await chaosRig(cleanup, { configure: (cfg) => (cfg.Watcher = { ...cfg.Watcher, CommandTimeoutMs: 60000 }) });
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const writers = new WriterPool(rig.ext, 'stale-sentinel', { patient: 1 });
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acked > 200, { timeoutMs: 10000, what: 'writes flowing' });

    const stale = rig.cluster.sentinels[2]!;
    // The witness of the stale view. Peers push their hello messages (new epoch) straight to the
    // paused sentinel; they wait in its sockets, and it reads them the moment it resumes. A
    // question sent as soon as it is stopped is in its sockets before any of them, so its answer,
    // computed first after the resume, is what the sentinel says when it comes back.
    const probe = new Redis({ host: stale.host, port: stale.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    cleanup.add(() => probe.disconnect());
    await probe.connect();
    assert.equal(await probe.ping(), 'PONG');
    stale.pause();
    await assertStopped(stale);
    let answeredAt = 0;
    const firstAnswer = (probe.call('SENTINEL', 'MASTER', 'testing') as Promise<string[]>).then((a) => ((answeredAt = Date.now()), a));
    firstAnswer.catch(() => {});
    await master.kill('SIGKILL');
    assertDead(master);
    await waitRouted(rig.ext, replica.port, 30000, 'switch with one sentinel paused');
    await waitFor(() => rig.switches.length > 0, { timeoutMs: 5000, what: '+switch-master seen' });
    assertMarkedDown(rig, master.port);
    await assertStopped(stale); // paused through the whole failover
    const routing = routingStays(rig.ext, replica.port, 'routing after the switch');
    cleanup.add(() => routing.stop());
    await master.restart();
    assert.equal(await master.role(), 'master', 'the old master is back as a standalone master');
    const confirmedEpoch = (await rig.api<Array<{ port: number; configEpoch: number }>>('/api/topology'))[0]!.configEpoch;
    assert.equal(answeredAt, 0, 'the paused sentinel answered before it was resumed');
    const resumedAt = Date.now();
    stale.resume();
    const answer = await firstAnswer;
    assert.ok(answeredAt >= resumedAt, 'the answer came after the resume');
    const field = (k: string) => answer[answer.indexOf(k) + 1];
    // The fault took place: the resumed sentinel came back naming the old master at an older epoch,
    // while the routing watch (started at the switch) kept checking clients.
    assert.equal(Number(field('port')), master.port, 'the resumed sentinel came back naming the old master');
    assert.ok(Number(field('config-epoch')) < confirmedEpoch, `its epoch ${field('config-epoch')} is older than the confirmed ${confirmedEpoch}`);
    // Then, until it names the new master, new connections keep going to the new master.
    // A plain loop, not waitFor: waitFor would retry a failed routing assertion away.
    const seen = await checkWhileStale(rig.ext, rig.cluster, stale, master.port, replica.port);
    console.log(`chaos-detail scenario=stale-sentinel first_answer_after_resume=${field('port')}@epoch${field('config-epoch')} confirmed_epoch=${confirmedEpoch} stale_view_polled_ms=${seen.staleMs} routing_checks_while_stale=${seen.checksWhileStale} routing_checks_since_switch=${routing.checks}`);
    await waitFor(async () => (await rig.api<Array<{ agreeingSentinels: string[] }>>('/api/topology'))[0]!.agreeingSentinels.length === 3, { timeoutMs: 20000, what: 'the resumed sentinel agrees again' });
    // The daemon itself received the stale view (the old master, below the confirmed epoch) and refused it.
    const refused = (await rig.api<Array<{ staleView: { sentinel: string; port: number; configEpoch: number; floor: number } | null }>>('/api/topology'))[0]!.staleView;
    assert.ok(refused, 'the daemon received a stale view');
    assert.equal(refused.sentinel, `${stale.host}:${stale.port}`);
    assert.equal(refused.port, master.port, 'naming the old master');
    assert.ok(refused.configEpoch < refused.floor && refused.floor === confirmedEpoch, `at epoch ${refused.configEpoch}, below the confirmed ${confirmedEpoch}`);
    const n = writers.acked;
    await waitFor(() => writers.acked > n + 300, { timeoutMs: 10000, what: 'writes after the stale sentinel is back' });
    await writers.stop();
    await routing.stopAndAssert();

    const events = await rig.api<Events>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'exactly one change, no flip back');
    const s = await summarize('stale-sentinel', writers, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
    assert.ok(writers.acks.every((a) => a.node !== master.port || a.at < rig.switches[0]!.at), 'the old master acknowledged nothing after the switch');
  });
  it('a sentinel restarted from its pre-failover configuration (old master, old epoch) while the old master is back: no flip back', async (t) => {
    const cleanup = testCleanup(t);
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
    assertDead(stale);
    assertDead(master);
    await waitRouted(rig.ext, replica.port, 30000, 'switch with two sentinels');
    const routing = routingStays(rig.ext, replica.port, 'routing after the switch');
    cleanup.add(() => routing.stop());
    await master.restart();
    assert.equal(await master.role(), 'master', 'the old master is back as a standalone master');
    writeFileSync(confPath, oldConf);
    await stale.restart();
    // How long the restarted sentinel names the old master, and what clients get meanwhile.
    const seen = await checkWhileStale(rig.ext, rig.cluster, stale, master.port, replica.port);
    // The fault took place: the restarted sentinel named the old master, at an older epoch, while clients were checked.
    assert.ok(seen.staleEpoch >= 0, 'the restarted sentinel never reported the stale view (the fault did not happen)');
    const confirmedEpoch = (await rig.api<Array<{ configEpoch: number }>>('/api/topology'))[0]!.configEpoch;
    assert.ok(seen.staleEpoch < confirmedEpoch, `stale epoch ${seen.staleEpoch} is older than the confirmed ${confirmedEpoch}`);
    assert.ok(seen.checksWhileStale >= 1, 'no routing check was made while the stale view was reported');
    console.log(`chaos-detail scenario=stale-sentinel-restarted stale_view=old-master@epoch${seen.staleEpoch} stale_view_ms=${seen.staleMs} routing_checks_while_stale=${seen.checksWhileStale}`);
    const n = writers.acked;
    await waitFor(() => writers.acked > n + 300, { timeoutMs: 10000, what: 'writes after the stale sentinel is back' });
    await writers.stop();
    await routing.stopAndAssert();

    const events = await rig.api<Events>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'exactly one change, no flip back');
    const s = await summarize('stale-sentinel-restarted', writers, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
  });
});
