import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { consulSectionSchema, createConsulOutput } from '../../src/outputs/consul/index.js';
import { OutputRunner } from '../../src/outputs/runner.js';
import { TopologyStore } from '../../src/topology/store.js';
import { OutputVerifier } from '../../src/verify/verifier.js';
import type { RouteVerification } from '../../src/verify/types.js';
import { Cleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';

const log = pino({ level: 'silent' });
const ID = 'redishappy-consul-testing';

/**
 * Verification of the Consul output (src/verify, the registry door): the entry read back from
 * the agent must name the confirmed master. Against the Consul STAND-IN
 * (test/support/consul-standin.ts: no Consul binary can be had here), driven as the daemon drives
 * it: topology store → OutputRunner → OutputVerifier.
 */
describe('Consul verification (against the Consul stand-in)', { timeout: 60000 }, () => {
  let cleanup = new Cleanup();
  beforeEach(() => {
    cleanup = new Cleanup();
  });
  afterEach(() => cleanup.run());

  async function setup(section: Record<string, unknown> = {}) {
    const consul = new ConsulStandIn({ token: 't' });
    await consul.start();
    cleanup.add(() => consul.stop());
    // The output's own reconcile is slow here: whatever is repaired, verification repaired it.
    const config = consulSectionSchema.parse({ Address: consul.address, Token: 't', ReconcileIntervalMs: 600000, TtlSeconds: 0, TimeoutMs: 500, VerifyIntervalMs: 200, VerifyRetries: 2, ...section });
    const topology = new TopologyStore([{ name: 'testing', externalPort: 7000 }]);
    const output = createConsulOutput({ config, clusterNames: ['testing'], logger: log });
    await output.init?.();
    // The runner tells the verifier of each apply, as the daemon wires them.
    const late: { verifier?: OutputVerifier } = {};
    const runner = new OutputRunner(output, log, { retryMinMs: 50, retryMaxMs: 200, onApplied: (_o, changes) => late.verifier?.applied(changes) });
    const verifier = new OutputVerifier({ output, runner, snapshot: () => topology.snapshot(), access: { tls: undefined, settings: () => ({ credentials: {}, timeoutMs: 500, keepAliveSeconds: 0 }) }, logger: log });
    late.verifier = verifier;
    verifier.start();
    cleanup.add(async () => {
      verifier.close();
      await runner.close();
    });
    topology.on('change', (c, snap) => runner.submit(snap, [c]));
    const state = (): RouteVerification | undefined => verifier.states().get('testing');
    const registrations = () => consul.requests.filter((r) => r.method === 'PUT' && r.path === '/v1/agent/service/register').length;
    return { consul, topology, runner, output, verifier, state, registrations };
  }

  it('verified when the agent holds the master; an entry changed behind our back is wrong, registered again and verified', async () => {
    const { consul, topology, state, registrations } = await setup();
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s1'], null);
    const first = await waitFor(() => (state()?.state === 'verified' ? state() : undefined), { timeoutMs: 5000, what: 'verified after the registration' });
    assert.equal(first!.door, 'consul');
    assert.equal(registrations(), 1);

    // The fault: the agent's entry now names another address.
    consul.agentServices.get(ID)!.Address = '10.9.9.9';
    assert.equal(consul.resolve('testing')[0]?.address, '10.9.9.9', 'Consul really answers the wrong address');
    await waitFor(() => (registrations() === 2 ? true : undefined), { timeoutMs: 5000, what: 'the periodic check to find it wrong and register again' });
    await waitFor(() => (state()?.state === 'verified' && consul.resolve('testing')[0]?.address === '127.0.0.1' ? true : undefined), { timeoutMs: 5000, what: 'verified again' });
    assert.equal(topology.get('testing')?.master?.ip, '127.0.0.1');
  });

  it('an entry that stays wrong: VerifyRetries registrations more, then reported (gaveUp), and the confirmed master never changes', async () => {
    const { consul, topology, state, registrations, output, verifier } = await setup();
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s1'], null);
    await waitFor(() => state()?.state === 'verified', { timeoutMs: 5000, what: 'verified' });
    const registered = registrations();
    // The fault, lasting: another registrar that always has the last word. Every registration of
    // ours is overwritten at once (a registrar on a timer lost races on a loaded host: a check
    // could read our entry back before it came, and verification then rightly started over).
    const services = consul.agentServices;
    const set = services.set.bind(services);
    services.set = (id, svc) => set(id, id === ID ? { ...svc, Address: '10.9.9.9' } : svc);
    cleanup.add(() => {
      services.set = set;
    });
    services.get(ID)!.Address = '10.9.9.9';
    assert.equal(consul.resolve('testing')[0]?.address, '10.9.9.9', 'Consul really answers the wrong address');
    const v = await waitFor(() => (state()?.gaveUp ? state() : undefined), { timeoutMs: 15000, what: 'the retries used up' });
    assert.equal(v!.state, 'wrong');
    assert.equal(v!.reached?.address, '10.9.9.9:6379');
    assert.equal(v!.retries, 2);
    // Two applies again, each registering (the output's own read-back may register once more while
    // the other registrar keeps fighting: counted by the output, not by verification).
    assert.equal(verifier.details().verifyReapplies, 2, 'VerifyRetries applies again');
    assert.ok(registrations() > registered, 'the applies again registered');
    // Periodic checks go on; registrations do not.
    const after = registrations();
    const checked = v!.checkedAt;
    await waitFor(() => (state()?.checkedAt !== checked ? true : undefined), { timeoutMs: 5000, what: 'a later periodic check' });
    assert.equal(registrations(), after, 'no registration storm');
    assert.deepEqual(topology.get('testing')?.master, { ip: '127.0.0.1', port: 6379 }, 'what is confirmed never changes');
    assert.equal(output.status().lastError, null, 'the output itself saw no error: only verification knows');
  });

  it('Verify: false reads nothing back', async () => {
    const { consul, topology, state, runner } = await setup({ Verify: false });
    topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s1'], null);
    await runner.idle();
    const reads = consul.count('GET', '/v1/agent/services');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(consul.count('GET', '/v1/agent/services'), reads, 'no read-back beyond the output\'s own');
    assert.equal(state(), undefined);
  });
});
