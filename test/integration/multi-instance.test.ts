import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';
import { ANY_PORT, runBin, waitListening, type DaemonProcess } from '../support/daemon-process.js';
import { assertOldMasterNeverRouted } from '../support/faq.js';
import { startHaproxyDaemon, type HaproxyDaemon, type HaproxySetup } from '../support/haproxy-setup.js';
import { editJson } from '../support/paths.js';
import { FAST_WATCHER } from '../support/watch.js';

interface TopologyEntry {
  name: string;
  ip: string | null;
  port: number | null;
  configEpoch: number | null;
}

async function topologyOf(api: string, name: string): Promise<TopologyEntry | undefined> {
  return ((await (await fetch(`${api}/api/topology`)).json()) as TopologyEntry[]).find((c) => c.name === name);
}

/**
 * One redishappy beside each HAProxy host: two HAProxies, each rewritten only by its own
 * redishappy-haproxy, both daemons reading the same three real sentinels. No coordination between
 * them: each decides on its own, and they must reach the same answer.
 */
describe('one redishappy beside each HAProxy host (real sentinels, two real HAProxies)', { timeout: 300000 }, () => {
  const cleanup = useCleanup();

  it('both HAProxies follow a kill -9 failover to the same master, never route the restarted old master, and one host keeps working alone through a second failover', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 2, sentinels: 3 });
    const allSentinels = (s: HaproxySetup) => editJson(s.configPath, (cfg) => (cfg.Sentinels = cluster.sentinels.map((x) => ({ Host: x.host, Port: x.port }))));
    // Host A switches through the runtime API, host B by reloading: each host is configured on its own.
    const hostA: HaproxyDaemon = await startHaproxyDaemon(cleanup, cluster, { runtime: true, edit: allSentinels });
    const hostB: HaproxyDaemon = await startHaproxyDaemon(cleanup, cluster, { runtime: false, edit: allSentinels });
    const hosts = [
      { name: 'A', ...hostA, ext: hostA.setup.externalPorts.get('testing')! },
      { name: 'B', ...hostB, ext: hostB.setup.externalPorts.get('testing')! },
    ];
    const master = cluster.masters.get('testing')!;
    for (const h of hosts) {
      assert.equal(await routedTo(h.ext), master.port, `HAProxy ${h.name} routes to the master`);
      const t = await topologyOf(h.api, 'testing');
      assert.equal(t?.port, master.port, `daemon ${h.name} confirmed the master`);
    }

    // The master dies (kill -9): Sentinel promotes one of the two replicas.
    await master.kill('SIGKILL');
    assert.ok(!master.running, 'the master really died');
    const promoted = await cluster.waitForFailover('testing', { host: master.host, port: master.port }, 60000);
    assert.notEqual(promoted.port, master.port, 'Sentinel promoted a replica');
    assert.ok(cluster.replicas.get('testing')!.some((r) => r.port === promoted.port), 'the promoted node is one of the replicas');
    for (const h of hosts) {
      await waitFor(async () => (await routedTo(h.ext).catch(() => 0)) === promoted.port, { timeoutMs: 60000, what: `HAProxy ${h.name} to route to the promoted replica` });
    }
    // Both daemons agree on the master and on the epoch it was confirmed at.
    const [ta, tb] = await Promise.all(hosts.map(async (h) => {
      const t = await topologyOf(h.api, 'testing');
      return { ip: t?.ip, port: t?.port, configEpoch: t?.configEpoch };
    }));
    assert.equal(ta?.port, promoted.port);
    assert.deepEqual(tb, ta, 'both /api/topology agree (address and config-epoch)');
    assert.ok((ta?.configEpoch ?? 0) > 0, 'confirmed at the new epoch');

    // The FAQ scenario on both hosts: the old master restarts announcing itself as master; no client
    // through either HAProxy may reach it until Sentinel has demoted it.
    await assertOldMasterNeverRouted(hosts.map((h) => h.ext), master, promoted.port, 'one of the HAProxies');
    const [ta2, tb2] = await Promise.all(hosts.map((h) => topologyOf(h.api, 'testing')));
    assert.equal(ta2?.port, promoted.port, 'daemon A still names the promoted replica');
    assert.equal(tb2?.port, promoted.port, 'daemon B still names the promoted replica');

    // Host A's redishappy stops; host B carries on alone through a second failover.
    hosts[0]!.daemon.child.kill('SIGTERM');
    assert.equal(await hosts[0]!.daemon.exited, 0, 'daemon A stopped cleanly');
    await cluster.waitForSentinelsDiscovered(30000); // both remaining nodes are healthy replicas again
    const second = cluster.nodeByPort(promoted.port)!;
    await second.kill('SIGKILL');
    assert.ok(!second.running, 'the second master really died');
    const promoted2 = await cluster.waitForFailover('testing', { host: second.host, port: second.port }, 60000);
    assert.notEqual(promoted2.port, second.port);
    await waitFor(async () => (await routedTo(hosts[1]!.ext).catch(() => 0)) === promoted2.port, { timeoutMs: 60000, what: 'HAProxy B to route to the second promoted node' });
    assert.equal((await topologyOf(hosts[1]!.api, 'testing'))?.port, promoted2.port, 'daemon B confirmed the second failover');
    assert.equal((await fetch(`${hosts[1]!.api}/api/ping`)).status, 200);
  });
});

/**
 * Two redishappy-consul instances for high availability: the same real sentinels, the same Consul
 * (stand-in), the same catalog entry, through a real failover.
 */
describe('two instances keeping the same Consul entries (real sentinels, Consul stand-in)', { timeout: 180000 }, () => {
  const cleanup = useCleanup();

  it('both converge on the new master, the entry does not flap between them, and either can be stopped', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const consul = new ConsulStandIn();
    await consul.start();
    cleanup.add(() => consul.stop());
    const dir = mkdtempSync(join(tmpdir(), 'rh-multi-'));
    const cfg = join(dir, 'config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        Clusters: [{ Name: 'testing', ExternalPort: 6379 }],
        Sentinels: cluster.sentinels.map((s) => ({ Host: s.host, Port: s.port })),
        Watcher: FAST_WATCHER,
        Syslog: { Enabled: false },
        // A short read-back interval: if the two instances fought over the entry, it would show.
        Consul: { Address: consul.address, Mode: 'catalog', ReconcileIntervalMs: 300 },
      }),
    );
    const start = async (): Promise<{ d: DaemonProcess; api: string }> => {
      const d = runBin(cleanup, 'redishappy-consul', ['-config', cfg, '-bind', ANY_PORT]);
      return { d, api: await waitListening(d) };
    };
    const a = await start();
    const b = await start();
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const entry = () => consul.resolve('testing');
    const confirmedPort = async (api: string) => {
      const t = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ name: string; port: number | null }>;
      return t.find((c) => c.name === 'testing')?.port;
    };
    // The entry's successive values as redishappy wrote them (consecutive repeats folded).
    const written = () => {
      const ports = consul.requests.filter((r) => r.method === 'PUT' && r.path === '/v1/catalog/register').map((r) => (r.body as { Service: { Port: number } }).Service.Port);
      return ports.filter((p, i) => i === 0 || p !== ports[i - 1]);
    };

    await waitFor(async () => (await confirmedPort(a.api)) === master.port && (await confirmedPort(b.api)) === master.port, { timeoutMs: 15000, what: 'both confirm the first master' });
    await waitFor(() => entry().length === 1 && entry()[0]!.port === master.port, { timeoutMs: 15000, what: 'entry registered' });

    await master.kill('SIGKILL');
    assert.ok(!master.running, 'the master really died');
    await waitFor(async () => (await confirmedPort(a.api)) === replica.port && (await confirmedPort(b.api)) === replica.port, { timeoutMs: 60000, what: 'both confirm the new master' });
    await waitFor(() => entry().length === 1 && entry()[0]!.port === replica.port, { timeoutMs: 15000, what: 'entry moved to the new master' });

    // Let both instances read the entry back several times, then check nothing flipped it.
    const settledAt = consul.requests.length;
    await waitFor(() => consul.requests.slice(settledAt).filter((r) => r.method === 'GET' && r.path.startsWith('/v1/catalog/')).length >= 10, { timeoutMs: 30000, what: 'ten read-backs by the two instances' });
    assert.deepEqual(written(), [master.port, replica.port], 'the entry went from the old master to the new one once, never back');
    assert.deepEqual(entry().map((e) => e.port), [replica.port]);
    assert.equal(consul.count('PUT', '/v1/catalog/deregister'), 0, 'neither instance removed the entry');

    // Stop A: the entry stays, and B still keeps it (removed behind its back, B registers it again).
    a.d.child.kill('SIGTERM');
    assert.equal(await a.d.exited, 0);
    assert.deepEqual(entry().map((e) => e.port), [replica.port], 'stopping an instance leaves the entry');
    for (const node of consul.nodes.values()) for (const [id, svc] of node.Services) if (svc.Service === 'testing') node.Services.delete(id);
    await waitFor(() => entry().length === 1 && entry()[0]!.port === replica.port, { timeoutMs: 15000, what: 'the remaining instance restores the entry' });

    // Start A again and stop B: the same holds the other way round.
    const a2 = await start();
    await waitFor(async () => (await confirmedPort(a2.api)) === replica.port, { timeoutMs: 15000, what: 'restarted instance confirms the master' });
    b.d.child.kill('SIGTERM');
    assert.equal(await b.d.exited, 0);
    assert.deepEqual(entry().map((e) => e.port), [replica.port]);
    for (const node of consul.nodes.values()) for (const [id, svc] of node.Services) if (svc.Service === 'testing') node.Services.delete(id);
    await waitFor(() => entry().length === 1 && entry()[0]!.port === replica.port, { timeoutMs: 15000, what: 'the other instance restores the entry' });
    assert.deepEqual(written(), [master.port, replica.port], 'never the old master again');
  });
});
