import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import autocannon from 'autocannon';
import { routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { runBin, waitListening } from '../support/daemon-process.js';
import { prepareHaproxy } from '../support/haproxy-setup.js';

/**
 * The API under load (thousands of requests a second on loopback) must not delay failover
 * handling. Measures propagation (test's own +switch-master → HAProxy routes to the new master)
 * with and without load, and reports both; asserts only a generous bound.
 */
describe('API load does not delay failover handling', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('propagation with and without autocannon hammering the API', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 2, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: true });
    const d = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', `127.0.0.1:${setup.apiPort}`]);
    await waitListening(d);
    const ext = setup.externalPorts.get('testing')!;
    await waitFor(async () => (await routedTo(ext)) === cluster.masters.get('testing')!.port, { timeoutMs: 15000, what: 'routing' });
    const sub = cluster.sentinels[0]!.client();
    let announced: { at: number; port: number } | null = null;
    await sub.subscribe('+switch-master');
    sub.on('message', (_c: string, m: string) => (announced ??= { at: Date.now(), port: Number(m.split(' ')[4]) }));
    cleanup.add(() => sub.disconnect());

    const failover = async (): Promise<number> => {
      announced = null;
      const s = cluster.sentinels[1]!.client();
      await waitFor(async () => s.call('SENTINEL', 'FAILOVER', 'testing').then(() => true, () => false), { timeoutMs: 30000, intervalMs: 100, what: 'failover accepted' });
      s.disconnect();
      const a = await waitFor(() => announced, { timeoutMs: 30000, intervalMs: 1, what: '+switch-master' });
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === a.port, { timeoutMs: 10000, intervalMs: 1, what: 'HAProxy follows' });
      return Date.now() - a.at;
    };

    const quiet = await failover();
    let finish: (r: autocannon.Result) => void = () => {};
    const done = new Promise<autocannon.Result>((resolve) => (finish = resolve));
    const instance = autocannon({ url: `http://127.0.0.1:${setup.apiPort}/api/topology`, connections: 20, duration: 30, pipelining: 1 }, (_err, result) => finish(result));
    await new Promise((r) => setTimeout(r, 500));
    const loaded = await failover();
    instance.stop();
    const result = await done;
    console.log(`api-load: propagation_quiet_ms=${quiet} propagation_under_load_ms=${loaded} api_requests_per_s=${Math.round(result.requests.average)} api_p99_ms=${result.latency.p99}`);
    assert.ok(result.requests.average > 1000, `load too light to mean anything: ${result.requests.average}/s`);
    assert.ok(loaded < 2000, `failover took ${loaded} ms to reach HAProxy under API load`);
  });
});
