import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';
import { ANY_PORT, runBin, waitListening } from '../support/daemon-process.js';
import { apiSentinels, waitForMorePolls } from '../support/polls.js';
import { FAST_WATCHER } from '../support/watch.js';

/** redishappy-consul as a real process, real redis + sentinels, and the Consul stand-in. */
describe('redishappy-consul end to end (real sentinels, Consul stand-in)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('registers at start, re-registers after a failover, and not on sentinel reconnects', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const consul = new ConsulStandIn({ token: 't0ken' });
    await consul.start();
    cleanup.add(() => consul.stop());
    const dir = mkdtempSync(join(tmpdir(), 'rh-consul-'));
    const cfg = join(dir, 'config.json');
    // The original's packaged consul config shape (lowercase "tags", a service for an unknown cluster).
    writeFileSync(
      cfg,
      JSON.stringify({
        Clusters: [{ Name: 'testing', ExternalPort: 6379 }],
        Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
        Watcher: FAST_WATCHER,
        Syslog: { Enabled: false },
        Consul: {
          Address: consul.address,
          Token: 't0ken',
          Services: [
            { Cluster: 'testing', Node: 'redis-1', Datacenter: 'dc1', tags: ['redis', 'master'] },
            { Cluster: 'other', Datacenter: 'dc1', Node: 'redis-2' },
          ],
        },
      }),
    );
    const d = runBin(cleanup, 'redishappy-consul', ['-config', cfg, '-bind', ANY_PORT]);
    const api = await waitListening(d);
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const svc = () => consul.agentServices.get('redishappy-consul-testing');
    await waitFor(() => svc()?.Port === master.port, { timeoutMs: 10000, what: 'registration at start' });
    assert.deepEqual(svc()?.Tags, ['redis', 'master']);
    assert.ok(consul.requests.every((r) => r.token === 't0ken'), 'token sent on every call');
    const registrations = () => consul.count('PUT', '/v1/agent/service/register');
    assert.equal(registrations(), 1);

    // A sentinel restart (the original re-registered everything on every reconnect).
    await cluster.sentinels[0]!.kill('SIGKILL');
    await cluster.sentinels[0]!.restart();
    await waitFor(async () => {
      const s = (await (await fetch(`${api}/api/sentinels`)).json()) as { sentinels: Record<string, { state: number }> };
      return Object.values(s.sentinels).filter((x) => x.state === 3).length === 3;
    }, { timeoutMs: 15000, what: 'sentinels alive again' });
    // Only once every sentinel has been polled again has the daemon handled the reconnect.
    await waitForMorePolls(() => apiSentinels(api), { what: 'after the sentinel restart' });
    assert.equal(registrations(), 1, 'no re-registration on sentinel reconnect');

    // Failover: once the sentinels have switched, the new master is registered, once.
    let switchedAt = 0;
    const sub = cluster.sentinels[1]!.client();
    await sub.subscribe('+switch-master');
    sub.on('message', () => (switchedAt ||= Date.now()));
    await master.kill('SIGKILL');
    await waitFor(() => switchedAt > 0, { timeoutMs: 30000, what: 'the sentinels to announce +switch-master' });
    await waitFor(() => svc()?.Port === replica.port, { timeoutMs: 30000, what: 're-registration after failover' });
    assert.equal(registrations(), 2);
    assert.ok(!consul.requests.some((r) => JSON.stringify(r.body ?? '').includes('redishappy-consul-other')), 'no entry for the unconfigured cluster');
    sub.disconnect();
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });
});
