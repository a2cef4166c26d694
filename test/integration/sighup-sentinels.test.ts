import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routedTo, sentinelFailover, startCluster, testCleanup, waitFor, type ClusterFixture } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { editJson, logged, reloadCount } from '../support/paths.js';

/**
 * Issue 20: on SIGHUP the configuration is the source of truth. Two real, independent sentinel
 * groups both call their cluster `testing`; the daemon follows group 1 (and a failover there), the
 * operator replaces the configured sentinels by one of group 2, and the traffic moves to group 2's
 * master and follows group 2's failovers, with nothing of group 1 left watched.
 */

const locations = (c: ClusterFixture) => c.sentinels.map((s) => `${s.host}:${s.port}`);

describe('SIGHUP and the configured sentinels (real sentinels, HAProxy)', { timeout: 240000 }, () => {
  it('replacing the sentinels by another group moves the traffic to that group and follows its failovers', async (t) => {
    const cleanup = testCleanup(t);
    const one = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const two = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const { setup, daemon, api } = await startHaproxyDaemon(cleanup, one, { runtime: true });
    const ext = setup.externalPorts.get('testing')!;
    const json = async <T>(path: string) => (await (await fetch(`${api}${path}`)).json()) as T;
    const watched = async () => Object.keys((await json<{ sentinels: Record<string, unknown> }>('/api/sentinels')).sentinels).sort();

    // Group 1 is followed, through a failover of its own, with all its sentinels discovered.
    await waitFor(async () => (await watched()).join() === locations(one).sort().join(), { timeoutMs: 20000, what: "group 1's three sentinels watched" });
    const replicaOne = one.replicas.get('testing')![0]!;
    await sentinelFailover(one.sentinels[0]!, 'testing');
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replicaOne.port, { timeoutMs: 30000, what: "HAProxy to follow group 1's failover" });

    // The operator points the daemon at group 2.
    editJson(setup.configPath, (cfg) => (cfg.Sentinels = [{ Host: two.sentinels[0]!.host, Port: two.sentinels[0]!.port }]));
    daemon.child.kill('SIGHUP');
    await waitFor(() => logged(daemon, 'configuration reloaded').length === 1, { timeoutMs: 15000, what: 'the reload' });
    const masterTwo = two.masters.get('testing')!;
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === masterTwo.port, { timeoutMs: 30000, what: "HAProxy to route to group 2's master" });
    assert.equal(logged(daemon, 'sentinels replaced by configuration: following the new group').length, 1, 'said once');
    // Only group 2 is watched: group 1's discovered sentinels are dropped and none comes back, even
    // after several discoveries (1 s each here).
    await waitFor(async () => (await watched()).join() === locations(two).sort().join(), { timeoutMs: 20000, what: "only group 2's sentinels watched" });
    const [cluster] = await json<Array<{ name: string; port: number | null; held: unknown }>>('/api/topology');
    assert.equal(cluster!.port, masterTwo.port);
    assert.equal(cluster!.held, null);

    // Group 2's own failover is followed (its epoch starts below group 1's: the floor was reset).
    const replicaTwo = two.replicas.get('testing')![0]!;
    await sentinelFailover(two.sentinels[1]!, 'testing');
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replicaTwo.port, { timeoutMs: 30000, what: "HAProxy to follow group 2's failover" });
    assert.deepEqual(await watched(), locations(two).sort(), 'group 1 was not rediscovered');
    assert.equal(logged(daemon, 'sentinels not in the cluster').length, 0, 'group 2 was never taken for a foreign group');
  });

  it('a SIGHUP that leaves the sentinels alone changes no decision: no re-decision, no reload', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const { setup, daemon, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: false });
    const polls = async () => Object.values(((await (await fetch(`${api}/api/sentinels`)).json()) as { sentinels: Record<string, { fullPolls: number; lightPolls: number }> }).sentinels).reduce((n, s) => n + s.fullPolls + s.lightPolls, 0);
    await waitFor(() => logged(daemon, 'discovered sentinel, watching it').length === 2, { timeoutMs: 20000, what: 'both peers discovered' });
    const reloads = reloadCount(setup.reloadLog);
    const decisions = () => daemon.logs().filter((l) => /confirmed|no new master|replaced/.test(String(l.msg))).length;
    const before = decisions();
    // Something else changes (the log level), the sentinels do not.
    editJson(setup.configPath, (cfg) => (cfg.LogLevel = 'debug'));
    daemon.child.kill('SIGHUP');
    await waitFor(() => logged(daemon, 'configuration reloaded').length === 1, { timeoutMs: 15000, what: 'the reload' });
    // A re-decision would follow the next polls (200 ms each): wait until every sentinel has been
    // polled a few times since the reload before saying nothing happened.
    const since = await polls();
    await waitFor(async () => (await polls()) >= since + 9, { timeoutMs: 15000, what: 'three more polls of each sentinel' });
    assert.equal(reloadCount(setup.reloadLog), reloads, 'HAProxy was not reloaded');
    assert.equal(decisions(), before, 'no decision was logged');
    assert.equal(logged(daemon, 'sentinels replaced by configuration').length, 0);
  });

  it('removing a cluster removes every trace of it: API, events, metrics series and the status page state', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['alpha', 'beta'], replicas: 1, sentinels: 3 });
    const { setup, daemon, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: true });
    const text = async (path: string) => (await fetch(`${api}${path}`)).text();
    // The status page's state: the first event of the stream it reads.
    const pageState = async () => {
      const ac = new AbortController();
      const res = await fetch(`${api}/api/stream`, { signal: ac.signal });
      const reader = res.body!.getReader();
      let buf = '';
      while (!buf.includes('\n\n')) buf += new TextDecoder().decode((await reader.read()).value);
      ac.abort();
      // What each sentinel monitors is the sentinel's own fact (beta is still monitored there).
      const state = JSON.parse(buf.slice(buf.indexOf('data: ') + 6, buf.indexOf('\n\n'))) as { sentinels: Record<string, { clusters?: unknown }> };
      for (const s of Object.values(state.sentinels)) delete s.clusters;
      return JSON.stringify(state);
    };
    // beta has a history: a failover, so events, failovers and series name it.
    await sentinelFailover(cluster.sentinels[0]!, 'beta');
    await waitFor(async () => (await routedTo(setup.externalPorts.get('beta')!).catch(() => 0)) === cluster.replicas.get('beta')![0]!.port, { timeoutMs: 30000, what: 'beta failed over' });
    for (const [what, read] of [['/api/topology', () => text('/api/topology')], ['/api/events', () => text('/api/events')], ['/metrics', () => text('/metrics')], ['the page state', pageState]] as const) {
      assert.ok((await read()).includes('beta'), `${what} names beta before it is removed`);
    }

    editJson(setup.configPath, (cfg) => (cfg.Clusters = (cfg.Clusters as Array<{ Name: string }>).filter((c) => c.Name !== 'beta')));
    daemon.child.kill('SIGHUP');
    await waitFor(() => logged(daemon, 'configuration reloaded').length === 1, { timeoutMs: 15000, what: 'the reload' });
    for (const [what, read] of [['/api/topology', () => text('/api/topology')], ['/api/events', () => text('/api/events')], ['/metrics', () => text('/metrics')], ['the page state', pageState]] as const) {
      const body = await read();
      assert.ok(body.includes('alpha'), `${what} still names alpha`);
      assert.ok(!body.includes('beta'), `${what} no longer names beta: ${body.split('\n').filter((l) => l.includes('beta')).slice(0, 3).join(' | ')}`);
    }
  });
});
