import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { consulSectionSchema, createConsulSink } from '../../src/sinks/consul/index.js';
import { SinkRunner } from '../../src/sinks/runner.js';
import { TopologyStore } from '../../src/topology/store.js';
import { useCleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';

const log = pino({ level: 'silent' });

/** The Consul output against the Consul stand-in (see its header: no real Consul can be had here). */
describe('Consul output (Consul stand-in server)', () => {
  const cleanup = useCleanup();

  async function setup(section: Record<string, unknown>, clusters = ['testing'], standin?: ConsulStandIn) {
    const consul = standin ?? new ConsulStandIn({ token: 'secret-token' });
    if (!standin) {
      await consul.start();
      cleanup.add(() => consul.stop());
    }
    const config = consulSectionSchema.parse({ Address: consul.address, Token: 'secret-token', ReconcileIntervalMs: 200, TtlSeconds: 3, TimeoutMs: 500, ...section });
    const topology = new TopologyStore(clusters.map((name, i) => ({ name, externalPort: 7000 + i })));
    let healthy = true;
    const sink = createConsulSink({ config, clusterNames: clusters, logger: log, sentinelsHealthy: () => healthy });
    await sink.init?.();
    const runner = new SinkRunner(sink, log, { retryMinMs: 50, retryMaxMs: 200 });
    cleanup.add(() => runner.close());
    topology.on('change', (c, snap) => runner.submit(snap, [c]));
    return { consul, topology, runner, sink, setHealthy: (h: boolean) => (healthy = h) };
  }

  it('registers at start with the token, once; re-registers only on a change', async () => {
    const { consul, topology, runner } = await setup({});
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    await runner.idle();
    const regs = () => consul.requests.filter((r) => r.path === '/v1/agent/service/register');
    assert.equal(regs().length, 1);
    assert.equal(regs()[0]!.token, 'secret-token');
    assert.deepEqual(consul.agentServices.get('redishappy-consul-testing')?.Port, 6379);
    assert.equal(consul.checks.get('service:redishappy-consul-testing')?.Status, 'passing');
    for (let i = 0; i < 5; i++) runner.submit(topology.snapshot(), []);
    await runner.idle();
    assert.equal(regs().length, 1, 'no duplicate registration in steady state');
    topology.confirm('testing', { ip: '127.0.0.1', port: 6380 }, 2, ['s'], null);
    await runner.idle();
    assert.equal(regs().length, 2);
    assert.equal(consul.agentServices.get('redishappy-consul-testing')?.Port, 6380);
  });

  it('a wrong token is an error that is visible and retried', async () => {
    const { topology, sink } = await setup({ Token: 'wrong' });
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    await waitFor(() => sink.status().lastError?.includes('403'), { timeoutMs: 3000, what: '403 recorded' });
  });

  it('retries while Consul is down and catches up when it is back', async () => {
    const { consul, topology, runner } = await setup({});
    consul.setDown(true);
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    await waitFor(() => runner.status().details?.consecutiveFailures as number >= 2, { timeoutMs: 5000, what: 'failed attempts while down' });
    consul.setDown(false);
    await waitFor(() => consul.agentServices.get('redishappy-consul-testing')?.Port === 6379, { timeoutMs: 5000, what: 'registration after Consul came back' });
  });

  it('a slow Consul never blocks beyond the timeout', async () => {
    const { consul, topology, sink } = await setup({ TimeoutMs: 200 });
    consul.setDelay(2000);
    const t0 = Date.now();
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    await waitFor(() => sink.status().lastError?.includes('within 200ms'), { timeoutMs: 3000, what: 'timeout recorded' });
    assert.ok(Date.now() - t0 < 2000);
    consul.setDelay(0);
  });

  it('reconcile re-registers an entry removed behind our back; TTL fails when sentinels are lost', async () => {
    const { consul, topology, runner, sink, setHealthy } = await setup({});
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    await runner.idle();
    consul.agentServices.delete('redishappy-consul-testing');
    consul.checks.clear();
    await waitFor(() => consul.agentServices.has('redishappy-consul-testing'), { timeoutMs: 3000, what: 're-registration by reconcile' });
    assert.ok((sink.status().details?.reconcileDrifts as number) >= 1);
    setHealthy(false);
    await waitFor(() => consul.checks.get('service:redishappy-consul-testing')?.Status === 'critical', { timeoutMs: 5000, what: 'TTL check failed' });
    setHealthy(true);
    await waitFor(() => consul.checks.get('service:redishappy-consul-testing')?.Status === 'passing', { timeoutMs: 5000, what: 'TTL check passing again' });
  });

  it('deregisters services of clusters removed from the config; a restart with identical state registers nothing', async () => {
    const consul = new ConsulStandIn({ token: 'secret-token' });
    await consul.start();
    cleanup.add(() => consul.stop());
    const first = await setup({}, ['testing', 'gone'], consul);
    first.topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    first.topology.confirm('gone', { ip: '127.0.0.1', port: 6390 }, 1, ['s'], null);
    await first.runner.idle();
    await first.runner.close();
    assert.ok(consul.agentServices.has('redishappy-consul-gone'));
    const before = consul.count('PUT', '/v1/agent/service/register');
    const second = await setup({}, ['testing'], consul);
    second.topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    await second.runner.idle();
    assert.ok(!consul.agentServices.has('redishappy-consul-gone'), 'removed cluster deregistered');
    assert.equal(consul.count('PUT', '/v1/agent/service/register'), before, 'identical entry not registered again');
  });

  it('catalog mode: external node survives anti-entropy; agent nodes are refused', async () => {
    const { consul, topology, runner, sink } = await setup({ Mode: 'catalog', Services: [{ Cluster: 'testing', Datacenter: 'dc1', Tags: ['master'] }, { Cluster: 'bad', Node: 'agent-1' }] }, ['testing', 'bad']);
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
    topology.confirm('bad', { ip: '127.0.0.1', port: 6390 }, 1, ['s'], null);
    await waitFor(() => consul.nodes.get('redishappy-testing')?.Services.has('redishappy-consul-testing'), { timeoutMs: 3000, what: 'catalog registration' });
    assert.deepEqual(consul.nodes.get('redishappy-testing')?.NodeMeta, { 'external-node': 'true', 'external-probe': 'false' });
    consul.runAntiEntropy();
    assert.ok(consul.nodes.get('redishappy-testing')?.Services.has('redishappy-consul-testing'), 'external node untouched by anti-entropy');
    await waitFor(() => sink.status().lastError?.includes('is a Consul agent node'), { timeoutMs: 3000, what: 'agent node refused' });
    assert.ok(!consul.nodes.get('agent-1')?.Services.has('redishappy-consul-bad'));
    await runner.close();
  });
});
