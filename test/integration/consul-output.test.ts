import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { consulSectionSchema, createConsulOutput } from '../../src/outputs/consul/index.js';
import { OutputRunner } from '../../src/outputs/runner.js';
import type { Output } from '../../src/outputs/types.js';
import { TopologyStore } from '../../src/topology/store.js';
import type { TopologySnapshot } from '../../src/topology/types.js';
import { Cleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn, type StandInCheck } from '../support/consul-standin.js';

const log = pino({ level: 'silent' });
const ID = 'redishappy-consul-testing';
const CHECK = `service:${ID}`;

/**
 * The Consul output against the Consul STAND-IN (test/support/consul-standin.ts: no Consul binary
 * can be had here). The output is driven as the daemon drives it: topology store → OutputRunner.
 */
describe('Consul output (against the Consul stand-in)', { timeout: 60000 }, () => {
  // Each test's stand-ins and runners are stopped when that test ends, passed or failed.
  let cleanup = new Cleanup();
  beforeEach(() => {
    cleanup = new Cleanup();
  });
  afterEach(() => cleanup.run());

  /** Resolves once the output has finished `rounds` more reconcile rounds (each one reads Consul back). */
  async function reconciled(output: Output, rounds: number): Promise<void> {
    let last = output.status().details?.lastReconcileAt;
    for (let i = 0; i < rounds; i++) {
      const seen = last;
      last = await waitFor(() => (output.status().details?.lastReconcileAt !== seen ? output.status().details?.lastReconcileAt : undefined), { timeoutMs: 5000, what: `reconcile round ${i + 1} of ${rounds}` });
    }
  }

  /** Every status a stand-in check takes from now on (the stand-in sets it on TTL expiry and on each update). */
  function statusHistory(check: StandInCheck): string[] {
    const history = [check.Status];
    let status = check.Status;
    Object.defineProperty(check, 'Status', {
      enumerable: true,
      get: () => status,
      set: (v: StandInCheck['Status']) => {
        status = v;
        history.push(v);
      },
    });
    return history;
  }

  async function standIn(opts: { token?: string } = { token: 'secret-token' }) {
    const consul = new ConsulStandIn(opts);
    await consul.start();
    cleanup.add(() => consul.stop());
    return consul;
  }

  async function setup(section: Record<string, unknown>, clusters = ['testing'], consul?: ConsulStandIn) {
    consul ??= await standIn();
    const config = consulSectionSchema.parse({ Address: consul.address, Token: 'secret-token', ReconcileIntervalMs: 60000, TtlSeconds: 3, TimeoutMs: 500, ...section });
    const topology = new TopologyStore(clusters.map((name, i) => ({ name, externalPort: 7000 + i })));
    let healthy = true;
    const output = createConsulOutput({ config, clusterNames: clusters, logger: log, sentinelsHealthy: () => healthy });
    await output.init?.();
    const runner = new OutputRunner(output, log, { retryMinMs: 50, retryMaxMs: 200 });
    cleanup.add(() => runner.close());
    topology.on('change', (c, snap) => runner.submit(snap, [c]));
    const confirm = (name: string, port: number, epoch = 1, ip = '127.0.0.1') => topology.confirm(name, { ip, port }, epoch, ['s1'], null);
    return { consul, topology, runner, output, confirm, setHealthy: (h: boolean) => (healthy = h) };
  }

  const registrations = (consul: ConsulStandIn, path = '/v1/agent/service/register') => consul.requests.filter((r) => r.method === 'PUT' && r.path === path);

  it('registers at start with the exact payload, the token, and a passing TTL check', async () => {
    const { consul, runner, confirm } = await setup({ Services: [{ Cluster: 'testing', Tags: ['redis', 'master'] }], Meta: { team: 'db' } });
    const t = confirm('testing', 6379, 7)!;
    await runner.idle();
    const regs = registrations(consul);
    assert.equal(regs.length, 1);
    assert.equal(regs[0]!.token, 'secret-token');
    assert.deepEqual(regs[0]!.query, { 'replace-existing-checks': 'true' });
    assert.deepEqual(regs[0]!.body, {
      ID,
      Name: 'testing',
      Tags: ['redis', 'master'],
      Address: '127.0.0.1',
      Port: 6379,
      Meta: { team: 'db', redishappy_cluster: 'testing', config_epoch: '7', confirmed_at: t.confirmedAt },
      Check: {
        CheckID: CHECK,
        Name: 'redishappy: confirmed Redis master',
        Notes: 'Passed by redishappy every 1s while it has a confirmed master and a live sentinel; critical when redishappy stopped or lost every sentinel (TTL 3s).',
        TTL: '3s',
        Status: 'passing',
      },
    });
    assert.equal(consul.checks.get(CHECK)?.Status, 'passing');
    assert.deepEqual(consul.resolve('testing'), [{ node: 'agent-1', address: '127.0.0.1', port: 6379 }], 'testing.service.consul answers the master');
    assert.deepEqual(consul.resolve('testing', 'master'), [{ node: 'agent-1', address: '127.0.0.1', port: 6379 }], 'master.testing.service.consul too');
    assert.ok(consul.requests.every((r) => r.token === 'secret-token'), 'token sent on every call');
    await runner.close();
  });

  it('no duplicate registration in steady state, on re-submits (sentinel reconnects) or reconciles without drift; re-registers on a master change', async () => {
    const { consul, topology, runner, output, confirm } = await setup({ ReconcileIntervalMs: 100 });
    confirm('testing', 6379);
    await runner.idle();
    for (let i = 0; i < 5; i++) runner.submit(topology.snapshot(), []);
    await runner.idle();
    const reads = consul.count('GET', '/v1/agent/services');
    await waitFor(() => consul.count('GET', '/v1/agent/services') >= reads + 3, { timeoutMs: 3000, what: 'three reconcile rounds' });
    assert.equal(registrations(consul).length, 1, 'one registration in steady state');
    assert.equal(output.status().details?.reconcileDrifts, 0);
    confirm('testing', 6380, 2);
    await runner.idle();
    assert.equal(registrations(consul).length, 2);
    assert.equal(consul.agentServices.get(ID)?.Port, 6380);
    assert.equal(consul.agentServices.get(ID)?.Meta.config_epoch, '2');
    assert.equal(output.status().details?.registrations, 2);
    await runner.close();
  });

  it('a cluster without a confirmed master is left alone; a cluster not configured is never registered', async () => {
    const { consul, runner, topology } = await setup({ Services: [{ Cluster: 'testing' }, { Cluster: 'other', Node: 'redis-2' }] }, ['testing', 'later']);
    runner.submit(topology.snapshot(), []);
    await runner.idle();
    assert.equal(registrations(consul).length, 0);
    topology.confirm('later', { ip: '127.0.0.1', port: 6390 }, 1, ['s'], null);
    await runner.idle();
    assert.deepEqual([...consul.agentServices.keys()], ['redishappy-consul-later']);
    assert.ok(!consul.requests.some((r) => JSON.stringify(r.body ?? '').includes('redishappy-consul-other')));
    await runner.close();
  });

  it('a wrong or missing token: 403 recorded and retried; registered once the token is right', async () => {
    const consul = await standIn();
    const wrong = await setup({ Token: 'wrong' }, ['testing'], consul);
    wrong.confirm('testing', 6379);
    await waitFor(() => wrong.runner.status().lastError?.includes('403 (ACL not found)'), { timeoutMs: 3000, what: '403 recorded' });
    await waitFor(() => (wrong.runner.status().details?.consecutiveFailures as number) >= 2, { timeoutMs: 3000, what: 'retried' });
    await wrong.runner.close();
    const none = await setup({ Token: undefined }, ['testing'], consul);
    none.confirm('testing', 6379);
    await waitFor(() => none.output.status().lastError?.includes('403 (Permission denied'), { timeoutMs: 3000, what: 'anonymous refused' });
    assert.ok(consul.requests.some((r) => r.token === undefined), 'no header without a Token');
    await none.runner.close();
    assert.equal(consul.agentServices.size, 0);
    const right = await setup({}, ['testing'], consul);
    right.confirm('testing', 6379);
    await right.runner.idle();
    assert.equal(consul.agentServices.get(ID)?.Port, 6379);
    await right.runner.close();
  });

  for (const how of ['reset', 'refuse', 'error'] as const) {
    it(`retries while Consul is down (${how}) and catches up with the latest master when it is back`, async () => {
      const { consul, runner, confirm } = await setup({});
      await consul.setDown(true, how);
      confirm('testing', 6379);
      await waitFor(() => (runner.status().details?.consecutiveFailures as number) >= 3, { timeoutMs: 5000, what: 'failed attempts while down' });
      const failed = runner.status().details?.consecutiveFailures as number;
      confirm('testing', 6380, 2); // a failover while Consul is down
      // The new master change is tried at once (it does not wait for the backoff), and fails too.
      await waitFor(() => (runner.status().details?.consecutiveFailures as number) > failed, { timeoutMs: 5000, what: 'an attempt with the new master while down' });
      await consul.setDown(false);
      await waitFor(() => consul.agentServices.get(ID)?.Port === 6380, { timeoutMs: 5000, what: 'the latest master registered once Consul is back' });
      await runner.idle();
      assert.equal(runner.status().lastError, null);
      assert.equal(consul.count('PUT', '/v1/agent/service/register'), 1, 'only the latest master, once');
      await runner.close();
    });
  }

  it('a hanging Consul never holds up another output', async () => {
    // Consul never answers within the test, and the call's timeout is far away: the Consul runner's
    // apply stays in flight. Another output driven by the same topology (registered after it, as
    // HAProxy would be) must still apply; if it waited for Consul, the wait below would time out.
    const { consul, topology, runner, confirm } = await setup({ TimeoutMs: 600000 });
    consul.setDelay(600000);
    const applied: number[] = [];
    const other: Output = { name: 'other', apply: async (s: TopologySnapshot) => void applied.push(s.version), status: () => ({ name: 'other', lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null }), close: async () => {} };
    const otherRunner = new OutputRunner(other, log);
    cleanup.add(() => otherRunner.close());
    topology.on('change', (c, snap) => otherRunner.submit(snap, [c]));
    confirm('testing', 6379);
    await waitFor(() => consul.requests.length > 0, { timeoutMs: 5000, what: 'a Consul call in flight' });
    await waitFor(() => applied.length === 1, { timeoutMs: 10000, what: 'the other output applied while Consul hangs' });
    const st = runner.status();
    assert.equal(st.appliedVersion, null, 'the Consul apply is still in flight');
    assert.equal(st.lastError, null, 'the Consul apply has not failed either');
    await runner.close(); // aborts the call in flight
    consul.setDelay(0);
  });

  it('a slow Consul call gives up at TimeoutMs', async () => {
    const { consul, topology, output, confirm } = await setup({ TimeoutMs: 200 });
    consul.setDelay(600000);
    confirm('testing', 6379);
    // The error names the timeout: the call gave up before Consul answered (it never does here).
    await assert.rejects(output.apply(topology.snapshot(), []), /no answer from Consul within 200ms/);
    consul.setDelay(0);
  });

  it('close() aborts a call in flight at once and stops the timers', async () => {
    // Consul would answer after 10 minutes and the call's timeout is as far: only an abort ends it.
    const { consul, output } = await setup({ TimeoutMs: 600000, ReconcileIntervalMs: 50, TtlSeconds: 1 });
    consul.setDelay(600000);
    const topology = new TopologyStore([{ name: 'testing', externalPort: 1 }]);
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, [], null);
    const pending = output.apply(topology.snapshot(), []);
    await waitFor(() => consul.requests.length > 0, { timeoutMs: 2000, what: 'a call in flight' });
    await output.close();
    await assert.rejects(pending);
    const n = consul.requests.length;
    // A reference output with the same 50 ms reconcile interval, on its own stand-in, left running:
    // once it has read Consul back three times, the closed output's timers would have called too.
    const ref = await setup({ ReconcileIntervalMs: 50, TtlSeconds: 1 });
    ref.confirm('testing', 6379);
    await ref.runner.idle();
    await reconciled(ref.output, 3);
    assert.equal(consul.requests.length, n, 'no call after close');
    consul.setDelay(0);
  });

  it('reconcile: an entry removed or changed behind our back is registered again', async () => {
    const { consul, runner, output, confirm } = await setup({ ReconcileIntervalMs: 150 });
    confirm('testing', 6379);
    await runner.idle();
    // Removed (e.g. someone ran consul services deregister).
    consul.agentServices.delete(ID);
    consul.nodes.get('agent-1')!.Services.delete(ID);
    consul.checks.delete(CHECK);
    await waitFor(() => consul.agentServices.get(ID)?.Port === 6379 && consul.checks.get(CHECK)?.Status === 'passing', { timeoutMs: 3000, what: 're-registration by reconcile' });
    // Changed elsewhere.
    consul.agentServices.set(ID, { ...consul.agentServices.get(ID)!, Port: 1 });
    await waitFor(() => consul.agentServices.get(ID)?.Port === 6379, { timeoutMs: 3000, what: 'corrected by reconcile' });
    assert.equal(output.status().details?.reconcileDrifts, 2);
    assert.equal(registrations(consul).length, 3);
    await runner.close();
  });

  it('reconcile never puts back an older master than an apply that ran meanwhile', async () => {
    const { consul, runner, output, confirm } = await setup({ ReconcileIntervalMs: 50, TimeoutMs: 2000 });
    confirm('testing', 6379);
    await runner.idle();
    consul.agentServices.delete(ID); // the next reconcile registers 6379 again...
    consul.setDelay(150); // ...slowly, while the master changes
    const n = consul.requests.length;
    await waitFor(() => consul.requests.slice(n).some((r) => r.path === '/v1/agent/services'), { timeoutMs: 2000, what: 'a reconcile round in flight' });
    confirm('testing', 6380, 2);
    await runner.idle();
    consul.setDelay(0);
    // Two reconcile rounds after the apply (the second one begun after it): either would have put back an older master.
    await reconciled(output, 2);
    assert.equal(consul.agentServices.get(ID)?.Port, 6380);
    const ports = registrations(consul).map((r) => (r.body as { Port: number }).Port);
    assert.equal(ports.at(-1), 6380, `registrations in order: ${ports.join(', ')}`);
    await runner.close();
  });

  it('TTL check: kept passing (longer than its TTL), failed without sentinels, and left to expire when redishappy stops (DNS stops answering)', async () => {
    const { consul, runner, output, confirm, setHealthy } = await setup({ TtlSeconds: 1 });
    confirm('testing', 6379);
    await runner.idle();
    // The stand-in expires a TTL check that is not updated within 1 s: follow its state while it
    // records passes over 2.5 s.
    const history = statusHistory(consul.checks.get(CHECK)!);
    const registeredAt = registrations(consul).at(-1)!.at;
    await waitFor(() => consul.requests.some((r) => r.path.startsWith('/v1/agent/check/pass/') && r.at - registeredAt >= 2500), { timeoutMs: 15000, what: 'TTL passes recorded over 2.5 s' });
    assert.deepEqual([...new Set(history)], ['passing'], 'the check never expired meanwhile');
    assert.equal(registrations(consul).length, 1, 'the same check all along (not registered again)');
    assert.ok((output.status().details?.ttlPasses as number) >= 4);
    setHealthy(false);
    await waitFor(() => consul.checks.get(CHECK)?.Status === 'critical', { timeoutMs: 2000, what: 'TTL check failed' });
    assert.deepEqual(consul.resolve('testing'), [], 'DNS does not answer while redishappy has no sentinel');
    setHealthy(true);
    await waitFor(() => consul.checks.get(CHECK)?.Status === 'passing', { timeoutMs: 2000, what: 'TTL check passing again' });
    await runner.close();
    await waitFor(() => consul.checks.get(CHECK)?.Status === 'critical', { timeoutMs: 3000, what: 'TTL expired after redishappy stopped' });
    assert.equal(consul.checks.get(CHECK)?.Output, 'TTL expired');
    assert.deepEqual(consul.resolve('testing'), []);
    assert.ok(consul.agentServices.has(ID), 'the service stays registered (no deregistration on stop)');
  });

  it('a check the agent lost is registered again (TTL update answered 404)', async () => {
    const { consul, runner, confirm } = await setup({ TtlSeconds: 1 });
    confirm('testing', 6379);
    await runner.idle();
    consul.checks.delete(CHECK);
    await waitFor(() => consul.checks.get(CHECK)?.Status === 'passing', { timeoutMs: 3000, what: 'check registered again' });
    assert.equal(registrations(consul).length, 2);
    await runner.close();
  });

  it('TtlSeconds 0: no check, and a check left by an earlier configuration is removed', async () => {
    const consul = await standIn();
    const first = await setup({ TtlSeconds: 30 }, ['testing'], consul);
    first.confirm('testing', 6379);
    await first.runner.idle();
    await first.runner.close();
    assert.ok(consul.checks.has(CHECK));
    const second = await setup({ TtlSeconds: 0 }, ['testing'], consul);
    second.confirm('testing', 6379);
    await second.runner.idle();
    assert.ok(!consul.checks.has(CHECK), 'the old check is gone (replace-existing-checks)');
    assert.equal((registrations(consul).at(-1)!.body as Record<string, unknown>).Check, undefined);
    assert.deepEqual(consul.resolve('testing'), [{ node: 'agent-1', address: '127.0.0.1', port: 6379 }]);
    await second.runner.close();
  });

  it('restart/SIGHUP: identical state registers nothing; removed clusters are deregistered; changed tags are registered', async () => {
    const consul = await standIn();
    const first = await setup({}, ['testing', 'gone'], consul);
    first.confirm('testing', 6379);
    first.confirm('gone', 6390);
    await first.runner.idle();
    await first.runner.close();
    assert.ok(consul.agentServices.has('redishappy-consul-gone'));
    const before = registrations(consul).length;

    // Restart with the same masters (a new process confirms them again: another confirmed_at).
    const second = await setup({}, ['testing', 'gone'], consul);
    second.confirm('testing', 6379);
    second.confirm('gone', 6390);
    await second.runner.idle();
    assert.equal(registrations(consul).length, before, 'nothing registered again');
    await second.runner.close();

    // SIGHUP with "gone" removed from the configuration (the daemon builds a new output).
    const third = await setup({}, ['testing'], consul);
    third.confirm('testing', 6379);
    await third.runner.idle();
    assert.ok(!consul.agentServices.has('redishappy-consul-gone'), 'removed cluster deregistered');
    assert.equal(consul.count('PUT', '/v1/agent/service/deregister/redishappy-consul-gone'), 1);
    assert.equal(third.output.status().details?.deregistrations, 1);
    assert.equal(registrations(consul).length, before);
    await third.runner.close();

    // SIGHUP with new tags: registered once with them.
    const fourth = await setup({ Services: [{ Cluster: 'testing', Tags: ['primary'] }] }, ['testing'], consul);
    fourth.confirm('testing', 6379);
    await fourth.runner.idle();
    assert.deepEqual(consul.agentServices.get(ID)?.Tags, ['primary']);
    assert.equal(registrations(consul).length, before + 1);
    await fourth.runner.close();
    // Services not ours are never touched.
    assert.ok(![...consul.requests].some((r) => r.path.includes('deregister') && !r.path.includes('redishappy-consul-')));
  });

  it('a mass failover: many clusters registered in one apply, in parallel, each once', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const { consul, runner, topology } = await setup({}, names);
    consul.setDelay(20);
    for (const [i, n] of names.entries()) topology.confirm(n, { ip: '127.0.0.1', port: 10000 + i }, 1, [], null);
    await runner.idle();
    consul.setDelay(0);
    assert.equal(consul.agentServices.size, 40);
    assert.equal(registrations(consul).length, 40);
    await runner.close();
  });

  describe('catalog mode', () => {
    it('registers under a synthetic external node (exact payload) that survives anti-entropy', async () => {
      const { consul, runner, confirm } = await setup({ Mode: 'catalog', Services: [{ Cluster: 'testing', Datacenter: 'dc1', Tags: ['master'] }] });
      const t = confirm('testing', 6379, 4)!;
      await runner.idle();
      const regs = registrations(consul, '/v1/catalog/register');
      assert.equal(regs.length, 1);
      assert.deepEqual(regs[0]!.body, {
        Node: 'redishappy-testing',
        Address: '127.0.0.1',
        Datacenter: 'dc1',
        NodeMeta: { 'external-node': 'true', 'external-probe': 'false' },
        Service: { ID, Service: 'testing', Tags: ['master'], Address: '127.0.0.1', Port: 6379, Meta: { redishappy_cluster: 'testing', config_epoch: '4', confirmed_at: t.confirmedAt } },
      });
      assert.ok(consul.requests.filter((r) => r.path.startsWith('/v1/catalog/service/') || r.path.startsWith('/v1/health/node/')).every((r) => r.query.dc === 'dc1'), 'reads carry ?dc=');
      consul.runAntiEntropy();
      assert.ok(consul.nodes.get('redishappy-testing')?.Services.has(ID), 'external node untouched by anti-entropy');
      assert.deepEqual(consul.resolve('testing', 'master'), [{ node: 'redishappy-testing', address: '127.0.0.1', port: 6379 }]);
      assert.equal(consul.agentServices.size, 0, 'the agent is not used');
      assert.equal(consul.count('PUT', '/v1/agent/check/'), 0, 'no TTL updates in catalog mode');
      await runner.close();
    });

    it('refuses a node that runs an agent, saying why; other clusters are still registered', async () => {
      const consul = await standIn();
      consul.addAgentNode('redis-1', '10.0.0.9');
      const { runner, output, confirm } = await setup({ Mode: 'catalog', Services: [{ Cluster: 'testing' }, { Cluster: 'bad', Node: 'redis-1' }] }, ['testing', 'bad'], consul);
      confirm('testing', 6379);
      confirm('bad', 6390);
      await waitFor(() => output.status().lastError?.includes('node "redis-1" runs a Consul agent'), { timeoutMs: 3000, what: 'agent node refused' });
      assert.ok(consul.nodes.get('redishappy-testing')?.Services.has(ID));
      assert.equal(consul.nodes.get('redis-1')?.Services.size, 0);
      assert.equal(consul.nodes.get('redis-1')?.Address, '10.0.0.9', 'the real node is never rewritten');
      assert.ok(!consul.requests.some((r) => r.path === '/v1/catalog/register' && (r.body as { Node: string }).Node === 'redis-1'));
      await runner.close();
    });

    it('a datacenter Consul cannot reach is an error naming it', async () => {
      const { runner, confirm } = await setup({ Mode: 'catalog', Services: [{ Cluster: 'testing', Datacenter: 'dc9' }] });
      confirm('testing', 6379);
      await waitFor(() => runner.status().lastError?.includes('No path to datacenter'), { timeoutMs: 3000, what: 'dc error' });
      assert.match(runner.status().lastError!, /dc=dc9/);
      await runner.close();
    });

    it('reconcile re-registers a removed entry; no duplicates otherwise; restart registers nothing', async () => {
      const { consul, runner, output, confirm } = await setup({ Mode: 'catalog', ReconcileIntervalMs: 100 });
      confirm('testing', 6379);
      await runner.idle();
      await reconciled(output, 3);
      assert.equal(registrations(consul, '/v1/catalog/register').length, 1, 'no registration by reconcile rounds without drift');
      consul.nodes.get('redishappy-testing')!.Services.delete(ID);
      await waitFor(() => consul.nodes.get('redishappy-testing')?.Services.has(ID), { timeoutMs: 3000, what: 're-registered' });
      assert.equal(output.status().details?.reconcileDrifts, 1);
      await runner.close();
      const again = await setup({ Mode: 'catalog' }, ['testing'], consul);
      again.confirm('testing', 6379);
      await again.runner.idle();
      assert.equal(registrations(consul, '/v1/catalog/register').length, 2);
      await again.runner.close();
    });

    it('deregisters removed clusters and entries left on a node no longer configured; never touches others', async () => {
      const consul = await standIn();
      const first = await setup({ Mode: 'catalog', Services: [{ Cluster: 'testing', Node: 'redis-a' }] }, ['testing', 'gone'], consul);
      first.confirm('testing', 6379);
      first.confirm('gone', 6390);
      await first.runner.idle();
      await first.runner.close();
      // Someone else's external service, and someone else's service with another ID on our node.
      consul.nodes.set('esm-node', { Node: 'esm-node', Address: '10.0.0.5', Datacenter: 'dc1', NodeMeta: { 'external-node': 'true' }, Services: new Map([['web', { ID: 'web', Service: 'web', Tags: [], Address: '', Port: 80, Meta: {} }]]) });
      const second = await setup({ Mode: 'catalog', Services: [{ Cluster: 'testing', Node: 'redis-b' }] }, ['testing'], consul);
      second.confirm('testing', 6379);
      await second.runner.idle();
      assert.ok(!consul.nodes.get('redishappy-gone')?.Services.has('redishappy-consul-gone'), 'removed cluster deregistered');
      assert.ok(!consul.nodes.get('redis-a')?.Services.has(ID), 'entry on the old node deregistered');
      assert.ok(consul.nodes.get('redis-b')?.Services.has(ID), 'registered on the new node');
      assert.ok(consul.nodes.get('esm-node')?.Services.has('web'));
      const deregs = registrations(consul, '/v1/catalog/deregister').map((r) => r.body);
      assert.deepEqual(
        deregs.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        [
          { Node: 'redis-a', ServiceID: ID },
          { Node: 'redishappy-gone', ServiceID: 'redishappy-consul-gone' },
        ].map((d) => ({ ...d, Datacenter: 'dc1' })),
      );
      await second.runner.close();
    });
  });
});
