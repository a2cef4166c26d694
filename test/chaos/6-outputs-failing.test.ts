import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';
import { chaosRig, waitReplicaHealthy, waitSentinelMoved, type Outputs } from './setup.js';
import { medianMax, summarize } from './scenario.js';
import { assertRefused } from './proof.js';
import { WriterPool } from './writer.js';

const SERVICE = 'redishappy-consul-testing';

/**
 * One output broken at a time while the master fails over (kill -9), so that "the other output
 * keeps working" is measured, not assumed: a reload command that fails, one that hangs, a Consul
 * (stand-in: no Consul binary can be had here) that is slow, answers 500 or refuses connections.
 * Every failure must show in /api/outputs and /metrics, and every output must recover by itself.
 */
describe('chaos 6: a reload command that fails or hangs, a Consul that is slow or down', { timeout: 180000 }, () => {
  const cleanup = useCleanup();

  it('the watcher and the other output keep working, failures are visible, and everything recovers by itself', async () => {
    const flags = mkdtempSync(join(tmpdir(), 'rh-c6-'));
    const refuse = join(flags, 'refuse');
    const hang = join(flags, 'hang');
    const runtimeLink = join(flags, 'runtime.sock');
    let adminSocket = '';
    const consul = new ConsulStandIn();
    await consul.start();
    cleanup.add(() => consul.stop());
    // Runtime-API mode through a symlink to the admin socket: removing the link makes live switches
    // fail, so the daemon falls back to validate + write + reload, and the reload command is what
    // breaks. Four replicas (four kill -9 failovers), both outputs in one daemon.
    const rig = await chaosRig(cleanup, {
      runtime: true,
      replicas: 4,
      bin: 'redishappy',
      configure: (cfg) => {
        cfg.HAProxy!.ReloadCommand = `if [ -e ${refuse} ]; then echo "reload refused" >&2; exit 3; fi; if [ -e ${hang} ]; then sleep 60; fi; ${String(cfg.HAProxy!.ReloadCommand)}`;
        cfg.HAProxy!.ReloadTimeoutMs = 1000;
        adminSocket = String(cfg.HAProxy!.RuntimeSocket);
        rmSync(runtimeLink, { force: true }); // configure runs again if the rig starts over on new ports
        symlinkSync(adminSocket, runtimeLink);
        cfg.HAProxy!.RuntimeSocket = runtimeLink;
        cfg.Consul = { Address: consul.address, TimeoutMs: 300, ReconcileIntervalMs: 500 };
      },
    });
    await waitFor(() => consul.agentServices.get(SERVICE)?.Port === rig.cluster.masters.get('testing')!.port, { timeoutMs: 10000, what: 'Consul registration' });
    const outputs = async () => Object.fromEntries((await rig.api<Outputs>('/api/outputs')).outputs.map((o) => [o.name, o]));
    const inError = async (output: string) => Number(new RegExp(`^redishappy_output_in_error\\{output="${output}"\\} (\\d+)$`, 'm').exec(await rig.metrics())?.[1]);
    const consulAt = (port: number) => consul.agentServices.get(SERVICE)?.Port === port;
    const pingMs: number[] = [];
    const ping = async () => {
      const t = Date.now();
      assert.equal((await fetch(`${rig.apiBase}/api/ping`)).status, 200);
      pingMs.push(Date.now() - t);
    };
    const writers = new WriterPool(rig.ext, 'outputs-failing', { patient: 1 });
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acked > 200, { timeoutMs: 10000, what: 'writes flowing' });

    let current = rig.cluster.masters.get('testing')!.port;
    /** When fn first returns something other than `from` (polled from before the kill, so the time is the output's, not the test's). */
    const changeOf = (fn: () => Promise<number | undefined> | number | undefined, from: number) =>
      waitFor(async () => {
        const v = await fn();
        return v !== undefined && v !== from ? Date.now() : undefined;
      }, { timeoutMs: 60000, intervalMs: 5, what: 'an output to change' });
    /** Sentinel's master now (Sentinel sometimes fails over twice in a row: follow it, whatever it does). */
    const sentinelNow = async () => (current = (await rig.cluster.sentinelMaster('testing')).port);
    const routedToSentinelMaster = (what: string, timeoutMs: number) =>
      waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === (await sentinelNow()), { timeoutMs, intervalMs: 20, what });
    const consulAtSentinelMaster = async () => consulAt(await sentinelNow());
    /** kill -9 the master; returns the new master, when the test's subscriber saw the switch, and when each output changed. */
    const killMaster = async () => {
      const from = current;
      const switchesBefore = rig.switches.length;
      const consulChanged = changeOf(() => consul.agentServices.get(SERVICE)?.Port, from);
      const haproxyChanged = changeOf(() => routedTo(rig.ext).catch(() => undefined), from);
      consulChanged.catch(() => {});
      haproxyChanged.catch(() => {});
      await rig.nodeByPort(from).kill('SIGKILL');
      current = await waitSentinelMoved(rig.cluster, from);
      await waitFor(() => rig.switches.length > switchesBefore, { timeoutMs: 5000, what: '+switch-master seen' });
      await waitFor(async () => (await rig.api<Array<{ port: number }>>('/api/topology'))[0]!.port === current, { timeoutMs: 10000, intervalMs: 10, what: 'the watcher confirms the new master' });
      return { to: current, switchedAt: rig.switches.at(-1)!.at, consulChanged, haproxyChanged };
    };
    const followMs: Record<string, number> = {};
    /** HAProxy's fault was effective: no reload got through since `reloadsBefore`, reloads failed, and HAProxy does not route to the new master. */
    const assertHaproxyStuck = async (what: string, reloadsBefore: number, before: Record<string, unknown>) => {
      assert.equal(rig.reloads(), reloadsBefore, `${what}: a reload reached HAProxy`);
      const d = await rig.haproxyDetails();
      assert.ok(Number(d.reloadFailures) > Number(before.reloadFailures), `${what}: no reload failure counted`);
      assert.ok(Number(d.runtimeFailures) > Number(before.runtimeFailures), `${what}: no runtime API failure counted`);
      assert.notEqual(await routedTo(rig.ext).catch(() => 0), current, `${what}: HAProxy routes to the new master although it cannot be updated`);
    };

    // 1. No runtime API and the reload command fails: Consul follows, the HAProxy failure is visible, then recovers.
    rmSync(runtimeLink);
    writeFileSync(refuse, '');
    let reloadsBefore = rig.reloads();
    let before = await rig.haproxyDetails();
    let f = await killMaster();
    await waitFor(consulAtSentinelMaster, { timeoutMs: 10000, what: 'Consul follows while HAProxy reloads fail' });
    followMs['consul, haproxy reload failing'] = (await f.consulChanged) - f.switchedAt;
    await waitFor(async () => (await outputs()).haproxy?.lastError?.includes('reload refused'), { timeoutMs: 10000, what: 'reload failure in /api/outputs' });
    assert.match(String((await rig.haproxyDetails()).lastRuntimeError), /runtime socket/, 'the runtime API failure is visible too');
    assert.equal(await inError('haproxy'), 1);
    assert.equal(await inError('consul'), 0);
    await ping();
    // The fault was effective: every reload was refused (none reached HAProxy) and HAProxy does not route to the new master.
    await assertHaproxyStuck('reload refused', reloadsBefore, before);
    rmSync(refuse);
    await routedToSentinelMaster('HAProxy recovers by itself after the reload command works again', 20000);
    await waitFor(async () => (await outputs()).haproxy?.lastError === null, { timeoutMs: 10000, what: 'HAProxy error cleared' });
    await waitReplicaHealthy(rig.cluster, rig.cluster.replicas.get('testing')!.find((r) => r.running && r.port !== current)!.port);

    // 2. No runtime API and the reload command hangs (killed at ReloadTimeoutMs): same.
    writeFileSync(hang, '');
    reloadsBefore = rig.reloads();
    before = await rig.haproxyDetails();
    f = await killMaster();
    await waitFor(consulAtSentinelMaster, { timeoutMs: 10000, what: 'Consul follows while HAProxy reloads hang' });
    followMs['consul, haproxy reload hanging'] = (await f.consulChanged) - f.switchedAt;
    await waitFor(async () => (await outputs()).haproxy?.lastError?.includes('timed out'), { timeoutMs: 10000, what: 'reload timeout in /api/outputs' });
    assert.equal(await inError('haproxy'), 1);
    await ping();
    await assertHaproxyStuck('reload hanging', reloadsBefore, before);
    rmSync(hang);
    await routedToSentinelMaster('HAProxy recovers by itself after the hang', 30000);
    await waitFor(async () => (await outputs()).haproxy?.lastError === null, { timeoutMs: 10000, what: 'HAProxy error cleared' });
    const reloadsWithoutRuntime = rig.reloads();
    symlinkSync(adminSocket, runtimeLink); // the runtime API is back for the Consul half
    await waitReplicaHealthy(rig.cluster, [rig.cluster.masters.get('testing')!, ...rig.cluster.replicas.get('testing')!].find((r) => r.running && r.port !== current)!.port);

    // 3. Consul slower than its timeout, then answering 500: HAProxy follows, Consul's failure is visible, then recovers.
    consul.setDelay(2000);
    f = await killMaster();
    await routedToSentinelMaster('HAProxy follows while Consul is slow', 10000);
    followMs['haproxy, consul slow'] = (await f.haproxyChanged) - f.switchedAt;
    await waitFor(async () => (await outputs()).consul?.lastError, { timeoutMs: 10000, what: 'Consul timeout in /api/outputs' });
    assert.equal(await inError('consul'), 1);
    assert.equal(await inError('haproxy'), 0);
    await ping();
    // The fault was effective: with every call timing out, Consul still names the old master.
    assert.equal(consulAt(current), false, 'Consul followed although every call to it timed out');
    assert.match(String((await outputs()).consul?.lastError), /no answer|timed? ?out/i, 'the Consul error is the timeout');
    consul.setDelay(0);
    await consul.setDown(true, 'error');
    await waitFor(async () => /500|leader/i.test((await outputs()).consul?.lastError ?? ''), { timeoutMs: 15000, what: 'Consul 500 in /api/outputs' });
    assert.equal(consulAt(current), false, 'Consul followed although it answered 500');
    await consul.setDown(false);
    await waitFor(async () => (await consulAtSentinelMaster()) && (await outputs()).consul?.lastError === null, { timeoutMs: 40000, what: 'Consul recovers by itself' });
    await waitReplicaHealthy(rig.cluster, [rig.cluster.masters.get('testing')!, ...rig.cluster.replicas.get('testing')!].find((r) => r.running && r.port !== current)!.port);

    // 4. Consul refusing connections (agent not running): same.
    await consul.setDown(true, 'refuse');
    f = await killMaster();
    await routedToSentinelMaster('HAProxy follows while Consul is down', 10000);
    followMs['haproxy, consul down'] = (await f.haproxyChanged) - f.switchedAt;
    await waitFor(async () => (await outputs()).consul?.lastError, { timeoutMs: 10000, what: 'Consul down in /api/outputs' });
    assert.equal(await inError('consul'), 1);
    await ping();
    await assertRefused(Number(consul.address.split(':')[1]), 'Consul agent down');
    assert.equal(consulAt(current), false, 'Consul followed although it refused connections');
    assert.match(String((await outputs()).consul?.lastError), /ECONNREFUSED|refused/i, 'the Consul error is the refused connection');
    await consul.setDown(false);
    await waitFor(async () => (await consulAtSentinelMaster()) && (await outputs()).consul?.lastError === null, { timeoutMs: 40000, what: 'Consul recovers by itself' });

    const n = writers.acked;
    await waitFor(() => writers.acked > n + 200, { timeoutMs: 10000, what: 'writes after recovery' });
    await writers.stop();
    const o = await outputs();
    assert.equal(rig.reloads(), reloadsWithoutRuntime, 'with the runtime API back, the Consul-half failovers were switched live (no reload)');
    assert.equal(o.haproxy?.lastError, null);
    assert.equal(o.consul?.lastError, null);
    const events = await rig.api<{ events: Array<{ type: string; output?: string }> }>('/api/events');
    const errors = events.events.filter((e) => e.type === 'output-error');
    assert.ok(errors.some((e) => e.output === 'haproxy') && errors.some((e) => e.output === 'consul'), 'failures recorded in /api/events');
    const s = await summarize('reload-failing-consul-slow-or-down', writers, rig.switches, current);
    assert.ok(rig.switches.length >= 4, `${rig.switches.length} switches`);
    assert.equal(await sentinelNow(), current);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
    const p = medianMax(pingMs);
    console.log(`chaos-detail scenario=reload-failing-consul-slow-or-down ${Object.entries(followMs).map(([k, v]) => `"${k}"=${v}ms`).join(' ')} api_ping_median_ms=${p.median} api_ping_max_ms=${p.max}`);
  });
});
