import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';
import { ANY_PORT, runBin, waitListening, type DaemonProcess } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';

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
    assert.equal(entry().length, 0);
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
