import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, haproxyCli, routedTo, startCluster, testCleanup, waitFor, type Cleanup, type RedisNode } from '../harness/index.js';
import { startHaproxyDaemon, type HaproxySetup } from '../support/haproxy-setup.js';
import { editJson, logged } from '../support/paths.js';
import type { DaemonProcess } from '../support/daemon-process.js';
import { metric, topology } from '../support/verification.js';
import { parseServersState } from '../../src/outputs/haproxy/runtime.js';
import type { RouteVerification } from '../../src/verify/types.js';

/**
 * Read doors (issue 22: "a connection through the read port must reach a serving replica"), end
 * to end: real redis (one master, two replicas), three real sentinels, real HAProxy running the
 * SHIPPED runtime template (only its root-only global lines swapped for a loopback admin socket,
 * as in read-endpoint.test.ts), the real daemon. HAProxy's read backend is changed behind the
 * daemon's back through the runtime socket; the verifier must see it, apply again, report, and
 * never change what is confirmed.
 */

const SHIPPED = new URL('../../examples/haproxy/haproxy_template_runtime.cfg', import.meta.url);

function shippedTemplate(adminSocket: string): string {
  const text = readFileSync(SHIPPED, 'utf8');
  const body = text.slice(text.indexOf('defaults'));
  return `global\n stats socket ${adminSocket} level admin\n hard-stop-after 5s\n\n${body.replaceAll('bind *:', 'bind 127.0.0.1:')}`;
}

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

interface Started {
  setup: HaproxySetup;
  daemon: DaemonProcess;
  api: string;
  readPort: number;
  master: RedisNode;
  replicas: RedisNode[];
}

async function start(cleanup: Cleanup, extra: Record<string, unknown> = {}): Promise<Started> {
  const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 2, sentinels: 3 });
  const readPort = await freePort();
  const { setup, api, daemon } = await startHaproxyDaemon(cleanup, cluster, {
    runtime: true,
    template: shippedTemplate('ADMIN_SOCKET'),
    edit: (s) => {
      writeFileSync(s.templatePath, readFileSync(s.templatePath, 'utf8').replace('ADMIN_SOCKET', s.adminSocket));
      editJson(s.configPath, (config) => {
        const clusters = config.Clusters as Array<Record<string, unknown>>;
        clusters[0] = { ...clusters[0], ExternalReadPort: readPort };
        Object.assign(config, extra);
        const hap = config.HAProxy as Record<string, unknown>;
        // Wait for the new worker, as a systemd reload does (see read-endpoint.test.ts).
        hap.ReloadCommand = `${String(hap.ReloadCommand)} && sleep 0.5`;
        hap.VerifyIntervalMs = 300;
        hap.VerifyRetries = 2;
      });
    },
  });
  if (process.env.READ_DEBUG) cleanup.add(() => writeFileSync(`/tmp/verify-read-debug-${Date.now()}.log`, daemon.stdout() + daemon.stderr()));
  return { setup, daemon, api, readPort, master: cluster.masters.get('testing')!, replicas: cluster.replicas.get('testing')! };
}

interface TopologyWithRead {
  name: string;
  port: number | null;
  readPool: { target: string; replicas: Array<{ port: number; state: string }> };
  readVerification: Record<string, RouteVerification>;
}

async function cluster(api: string): Promise<TopologyWithRead> {
  return (await topology(api)).find((c) => c.name === 'testing') as unknown as TopologyWithRead;
}

const readRoute = async (api: string) => (await cluster(api)).readVerification.haproxy;

const readMetric = (api: string, door: 'read' | 'write') => metric(api, `redishappy_route_verified{cluster="testing",output="haproxy",door="${door}"}`);

/** Read slots of the running HAProxy that take new connections: server name and port. */
async function readySlots(setup: HaproxySetup): Promise<Array<{ server: string; port: number }>> {
  const states = parseServersState(await haproxyCli(setup.adminSocket, 'show servers state bk_testing_read'));
  return states.filter((st) => !st.server.endsWith('_master') && st.opState === 2 && (st.adminState & 0x63) === 0).map((st) => ({ server: st.server, port: st.port }));
}

/** Where `n` new connections through the read port land (the Redis node's port; 0: failed). */
async function readTargets(readPort: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await routedTo(readPort).catch(() => 0));
  return out;
}

/** Behind the daemon's back: every serving read slot now sends new connections to `port`. */
async function pointReadSlotsAt(setup: HaproxySetup, port: number): Promise<string[]> {
  const slots = await readySlots(setup);
  for (const s of slots) await haproxyCli(setup.adminSocket, `set server bk_testing_read/${s.server} addr 127.0.0.1 port ${port}`);
  return slots.map((s) => s.server);
}

async function bothReplicasVerified(s: Started): Promise<RouteVerification> {
  const ports = s.replicas.map((r) => `127.0.0.1:${r.port}`).sort();
  return waitFor(async () => {
    const v = await readRoute(s.api);
    return v?.state === 'verified' && v.readTarget === 'replicas' && [...(v.readPool ?? [])].sort().join() === ports.join() ? v : undefined;
  }, { timeoutMs: 30000, what: 'the read door verified with both replicas in the pool' });
}

describe('front-door verification of read doors through HAProxy (real redis, sentinels, haproxy; shipped runtime template)', { timeout: 240000 }, () => {
  it('verified on the read pool; a read backend pointed at the master behind our back is wrong, repaired by a re-apply, then (a reload that does nothing) reported after VerifyRetries; the decision never moves', async (t: TestContext) => {
    const cleanup = testCleanup(t);
    const s = await start(cleanup);
    const replicaPorts = s.replicas.map((r) => r.port);

    const first = await bothReplicasVerified(s);
    assert.equal(first.door, `127.0.0.1:${s.readPort}`, 'the read door is 127.0.0.1:<ExternalReadPort>');
    assert.ok(replicaPorts.map((p) => `127.0.0.1:${p}`).includes(first.servedBy!), `the check reached a pool member: ${first.servedBy}`);
    assert.equal(await readMetric(s.api, 'read'), 1);
    await waitFor(async () => (await readMetric(s.api, 'write')) === 1, { timeoutMs: 10000, what: 'the write door verified too' });

    // --- A re-apply repairs it: the reload rewrites the slots from the file. ---
    const reloadsBefore = lines(s.setup.reloadLog);
    const wrongBefore = logged(s.daemon, 'front-door check: reads reach an instance outside the read pool').length;
    const moved = await pointReadSlotsAt(s.setup, s.master.port);
    assert.equal(moved.length, 2, `both serving slots were moved: ${moved.join()}`);
    // The fault really happened: new reads land on the master.
    assert.deepEqual(await readTargets(s.readPort, 4), [s.master.port, s.master.port, s.master.port, s.master.port], 'reads reach the master behind the daemon\'s back');
    const seen = await waitFor(() => logged(s.daemon, 'front-door check: reads reach an instance outside the read pool')[wrongBefore], { timeoutMs: 10000, what: 'the read route found wrong' });
    assert.equal(seen.cluster, 'testing');
    assert.equal((seen.reached as { address?: string }).address, `127.0.0.1:${s.master.port}`, 'the log names the master as the instance reached');
    assert.equal((seen.reached as { role?: string }).role, 'master');
    await waitFor(async () => lines(s.setup.reloadLog) > reloadsBefore, { timeoutMs: 10000, what: 'the re-apply (a reload)' });
    await waitFor(async () => {
      const v = await readRoute(s.api);
      return v?.state === 'verified' && v.retries === 0;
    }, { timeoutMs: 15000, what: 'the read door verified again after the re-apply' });
    const after = await readTargets(s.readPort, 6);
    assert.ok(after.every((p) => replicaPorts.includes(p)), `reads reach the replicas again: ${after.join()}`);

    // --- A reload that reloads nothing: the fault stays, VerifyRetries re-applies, then reported. ---
    const noop = join(s.setup.dir, 'noop-reloads.log');
    const reloaded = logged(s.daemon, 'configuration reloaded').length;
    editJson(s.setup.configPath, (c) => {
      (c.HAProxy as Record<string, unknown>).ReloadCommand = `date +%s%3N >> ${noop}`;
    });
    s.daemon.child.kill('SIGHUP');
    await waitFor(() => logged(s.daemon, 'configuration reloaded').length > reloaded, { timeoutMs: 10000, what: 'the SIGHUP to be applied' });
    // The verifiers made by the SIGHUP start with the first apply after it.
    await waitFor(async () => (await readRoute(s.api))?.state === 'verified', { timeoutMs: 15000, what: 'verified after the SIGHUP' });
    assert.equal(lines(noop), 0, 'nothing to reload after the SIGHUP');

    const decided = await cluster(s.api);
    assert.equal((await pointReadSlotsAt(s.setup, s.master.port)).length, 2);
    assert.ok((await readTargets(s.readPort, 4)).every((p) => p === s.master.port), 'the fault is in place: reads reach the master');
    const reported = await waitFor(async () => {
      const v = await readRoute(s.api);
      return v?.gaveUp ? v : undefined;
    }, { timeoutMs: 30000, what: 'the read route reported after its retries' });
    assert.equal(reported.state, 'wrong');
    assert.equal(reported.retries, 2);
    assert.equal(reported.reached?.address, `127.0.0.1:${s.master.port}`);
    assert.equal(lines(noop), 2, 'VerifyRetries (2) re-applies, each one "reload"');
    assert.equal(await readMetric(s.api, 'read'), 0, 'the read door is reported');
    assert.equal(await readMetric(s.api, 'write'), 1, 'the write door is its own route, still verified');
    assert.equal(logged(s.daemon, 'front-door check: reads still reach an instance outside the read pool').length, 1, 'one error line');
    // No reload storm: the periodic checks go on, the re-applies do not.
    const at = reported.checkedAt;
    await waitFor(async () => (await readRoute(s.api))?.checkedAt !== at, { timeoutMs: 5000, what: 'a periodic check' });
    assert.equal(lines(noop), 2, 'no re-apply after the retries are used up');

    // What is decided never moved: the same master, the same read pool (both replicas serving).
    const now = await cluster(s.api);
    assert.equal(now.port, s.master.port, '/api/topology keeps the confirmed master');
    assert.equal(now.readPool.target, 'replicas');
    assert.deepEqual(now.readPool.replicas.map((r) => `${r.port} ${r.state}`).sort(), decided.readPool.replicas.map((r) => `${r.port} ${r.state}`).sort());
    assert.ok(now.readPool.replicas.every((r) => r.state === 'serving'));

    // Repaired behind the daemon's back too: the periodic check verifies it by itself.
    const slots = await readySlots(s.setup);
    for (const [i, slot] of slots.entries()) await haproxyCli(s.setup.adminSocket, `set server bk_testing_read/${slot.server} addr 127.0.0.1 port ${replicaPorts[i % replicaPorts.length]}`);
    await waitFor(async () => (await readRoute(s.api))?.state === 'verified', { timeoutMs: 10000, what: 'verified again once the door reaches the pool' });
    assert.equal(await readMetric(s.api, 'read'), 1);
  });

  it('no serving replica with ReadFallbackToMaster false: a refusing read door is the verified state, and one that answers is wrong', async (t: TestContext) => {
    const cleanup = testCleanup(t);
    const s = await start(cleanup, { ReadFallbackToMaster: false });
    await bothReplicasVerified(s);
    for (const r of s.replicas) await r.kill('SIGKILL');
    assert.ok(s.replicas.every((r) => !r.running), 'both replicas are gone');
    await waitFor(async () => (await cluster(s.api)).readPool.target === 'none', { timeoutMs: 20000, what: 'the pool to be empty (reads refused)' });
    const refused = await waitFor(async () => {
      const v = await readRoute(s.api);
      return v?.state === 'verified' && v.readTarget === 'none' ? v : undefined;
    }, { timeoutMs: 15000, what: 'the refusing read door verified' });
    assert.ok(refused.refused, `the refusal is shown: ${refused.refused}`);
    assert.equal(refused.servedBy, undefined);
    // The refusal is real: no read connection works.
    assert.deepEqual(await readTargets(s.readPort, 3), [0, 0, 0], 'reads are refused');
    assert.equal(await readMetric(s.api, 'read'), 1, 'refused is the right state: metric 1');

    // Behind the daemon's back a slot serves the master: the door answers when it must refuse.
    const reloadsBefore = lines(s.setup.reloadLog);
    const wrongBefore = logged(s.daemon, 'front-door check: reads reach an instance outside the read pool').length;
    await haproxyCli(s.setup.adminSocket, `set server bk_testing_read/R_testing_read_1 addr 127.0.0.1 port ${s.master.port}`);
    await haproxyCli(s.setup.adminSocket, 'set server bk_testing_read/R_testing_read_1 state ready');
    assert.equal(await routedTo(s.readPort), s.master.port, 'the fault is in place: a read reaches the master');
    const seen = await waitFor(() => logged(s.daemon, 'front-door check: reads reach an instance outside the read pool')[wrongBefore], { timeoutMs: 10000, what: 'the answering door found wrong' });
    assert.equal(seen.readTarget, 'none');
    // The re-apply reloads the file, whose slots are all disabled: refused again, verified.
    await waitFor(async () => lines(s.setup.reloadLog) > reloadsBefore, { timeoutMs: 10000, what: 'the re-apply (a reload)' });
    await waitFor(async () => {
      const v = await readRoute(s.api);
      return v?.state === 'verified' && v.readTarget === 'none' && v.retries === 0 ? v : undefined;
    }, { timeoutMs: 15000, what: 'refused and verified again after the re-apply' });
    assert.deepEqual(await readTargets(s.readPort, 2), [0, 0], 'reads are refused again');
    assert.equal((await cluster(s.api)).port, s.master.port, 'the confirmed master never moved');
  });
});
