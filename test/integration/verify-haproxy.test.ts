import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectThrough, routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { editJson, logged } from '../support/paths.js';
import { needTool } from '../support/tools.js';
import { metric, topology, verificationOf } from '../support/verification.js';

/**
 * Front-door verification (src/verify) through a real HAProxy, driven by the real daemon and real
 * sentinels: a new client through the door must reach the confirmed master, a door that reaches
 * another instance is wrong, re-applied a bounded number of times and reported, and none of it
 * ever changes what is confirmed.
 */

/** Reload times (ms since epoch) a ReloadCommand wrote, one line each. */
const reloadTimes = (path: string): number[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number) : []);

for (const runtime of [true, false]) {
  describe(`front-door verification through HAProxy, ${runtime ? 'runtime API' : 'reload'} mode (real haproxy + sentinels)`, { timeout: 150000 }, () => {
    const cleanup = useCleanup();

    it('a correct failover is verified: the metric, the event, the log line with verifiedMs, and clients really reach the new master', async () => {
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
      const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, { runtime });
      const master = cluster.masters.get('testing')!;
      const replica = cluster.replicas.get('testing')![0]!;
      const ext = setup.externalPorts.get('testing')!;
      const first = await waitFor(async () => {
        const v = await verificationOf(api, 'testing', 'haproxy');
        return v?.state === 'verified' && v.master === `127.0.0.1:${master.port}` ? v : undefined;
      }, { timeoutMs: 15000, what: 'the first master verified through HAProxy' });
      assert.equal(first.door, `127.0.0.1:${ext}`, 'the door is 127.0.0.1:<ExternalPort> by default');
      assert.equal(await metric(api, 'redishappy_route_verified{cluster="testing",output="haproxy",door="write"}'), 1);

      // SENTINEL FAILOVER keeps the old master alive: a door still routing to it would answer.
      await cluster.forceFailover('testing');
      const v = await waitFor(async () => {
        const x = await verificationOf(api, 'testing', 'haproxy');
        return x?.state === 'verified' && x.master === `127.0.0.1:${replica.port}` ? x : undefined;
      }, { timeoutMs: 30000, intervalMs: 20, what: 'the new master verified through HAProxy' });
      // Verified means a new client reaches it: so it does, now.
      assert.equal(await routedTo(ext), replica.port, 'a new client reaches the new master');
      assert.ok(v.verifiedAt, 'verifiedAt is set');

      const seconds = await metric(api, 'redishappy_failover_verified_seconds{cluster="testing",output="haproxy"}');
      const propagation = await metric(api, 'redishappy_failover_propagation_seconds{cluster="testing",output="haproxy"}');
      assert.ok(seconds !== undefined && seconds > 0 && seconds < 30, `verified seconds ${seconds}`);
      assert.ok(propagation !== undefined && seconds >= propagation, `verified (${seconds}) comes after applied (${propagation})`);
      const line = await waitFor(() => logged(d, 'failover: clients reach the new master')[0], { timeoutMs: 5000, what: 'the failover log line with verifiedMs' });
      assert.equal(line.output, 'haproxy');
      assert.equal(line.cluster, 'testing');
      assert.equal(typeof line.verifiedMs, 'number');
      assert.equal(Math.round(seconds * 1000), line.verifiedMs);
      const events = (await (await fetch(`${api}/api/events`)).json()) as { events: Array<{ type: string; verified?: Record<string, { verifiedMs: number }> }> };
      const failover = events.events.find((e) => e.type === 'failover' && e.verified?.haproxy);
      assert.equal(failover?.verified?.haproxy?.verifiedMs, line.verifiedMs, 'the failover event carries verified.haproxy');
    });
  });
}

describe('front-door verification finds a reload that reloads nothing (real haproxy + sentinels)', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('wrong within 2 s of the apply, re-applied VerifyRetries times then reported, metric 0, and the confirmed master never changes', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: false, extra: {} });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const ext = setup.externalPorts.get('testing')!;
    await waitFor(async () => (await verificationOf(api, 'testing', 'haproxy'))?.state === 'verified', { timeoutMs: 15000, what: 'verified before the fault' });

    // The fault: a ReloadCommand that exits 0 and reloads nothing (it only notes the time).
    const noop = join(setup.dir, 'noop-reloads.log');
    editJson(setup.configPath, (c) => {
      const h = c.HAProxy as Record<string, unknown>;
      h.ReloadCommand = `date +%s%3N >> ${noop}`;
      h.VerifyIntervalMs = 300;
      h.VerifyRetries = 3;
    });
    d.child.kill('SIGHUP');
    await waitFor(() => logged(d, 'configuration reloaded').length > 0, { timeoutMs: 10000, what: 'the SIGHUP to be applied' });
    assert.deepEqual(reloadTimes(noop), [], 'the same file after SIGHUP: nothing to reload');

    await cluster.forceFailover('testing');
    const wrong = await waitFor(async () => {
      const v = await verificationOf(api, 'testing', 'haproxy');
      return v?.state === 'wrong' && v.master === `127.0.0.1:${replica.port}` ? v : undefined;
    }, { timeoutMs: 30000, intervalMs: 20, what: 'the route found wrong' });
    const reloads = reloadTimes(noop);
    assert.ok(reloads.length >= 1, 'the failover was applied with the no-op reload command');
    // The fault really happened: HAProxy still sends new clients to the old master.
    assert.equal(await routedTo(ext), master.port, 'the door still reaches the old master');
    const detectedMs = Date.parse(wrong.checkedAt!) - reloads[0]!;
    assert.ok(detectedMs >= 0 && detectedMs < 2000, `wrong detected ${detectedMs} ms after the apply`);
    assert.equal(wrong.reached?.address, `:${master.port}`, 'the verdict names the instance reached');

    // Re-applied through the output (each re-apply is one more "reload"), then reported.
    const reported = await waitFor(async () => {
      const v = await verificationOf(api, 'testing', 'haproxy');
      return v?.gaveUp ? v : undefined;
    }, { timeoutMs: 30000, what: 'the retries to be used up' });
    assert.equal(reported.retries, 3);
    assert.equal(reloadTimes(noop).length, 1 + 3, 'the failover apply plus 3 re-applies');
    assert.equal(await metric(api, 'redishappy_route_verified{cluster="testing",output="haproxy",door="write"}'), 0);
    assert.equal(logged(d, 'front-door check: clients still reach another instance').length, 1, 'one error line');
    // No reload storm: periodic checks go on (checkedAt moves), the reloads do not.
    const at = reported.checkedAt;
    await waitFor(async () => (await verificationOf(api, 'testing', 'haproxy'))?.checkedAt !== at, { timeoutMs: 5000, what: 'a periodic check' });
    await waitFor(async () => (await verificationOf(api, 'testing', 'haproxy'))?.checkedAt !== at, { timeoutMs: 5000, what: 'another periodic check' });
    assert.equal(reloadTimes(noop).length, 4, 'no re-apply after the retries are used up');

    // What is confirmed never moved: the replica the sentinels promoted, not what the door reaches.
    for (const c of await topology(api)) if (c.name === 'testing') assert.equal(c.port, replica.port, '/api/topology keeps the confirmed master');
    assert.equal(await metric(api, 'redishappy_cluster_master_info{cluster="testing",ip="127.0.0.1",port="' + replica.port + '",config_epoch="1"}'), 1);

    // The alert's expression on what this daemon exports: promtool says it fires.
    if (!needTool('promtool', 'prometheus')) assertAlertFires(await metric(api, 'redishappy_route_verified{cluster="testing",output="haproxy",door="write"}'));

    // Repaired (a working reload again) and SIGHUP: verified again.
    editJson(setup.configPath, (c) => {
      (c.HAProxy as Record<string, unknown>).ReloadCommand = `kill -USR2 ${setup.haproxy.pid}`;
    });
    d.child.kill('SIGHUP');
    await waitFor(async () => (await verificationOf(api, 'testing', 'haproxy'))?.state === 'verified', { timeoutMs: 20000, what: 'verified after the repair' });
    const { client } = await connectThrough(ext);
    client.disconnect();
  });
});

/** RedishappyRouteWrong evaluated by promtool on a series holding the scraped value for 3 minutes. */
function assertAlertFires(value: number | undefined): void {
  assert.equal(value, 0);
  const dir = mkdtempSync(join(tmpdir(), 'rh-verify-alert-'));
  cpSync(fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url)), join(dir, 'alerts.yml'));
  writeFileSync(
    join(dir, 'test.yml'),
    `rule_files: [alerts.yml]
evaluation_interval: 30s
tests:
  - interval: 30s
    input_series:
      - series: 'redishappy_route_verified{job="rh",instance="a",cluster="testing",output="haproxy",door="write"}'
        values: '${value}x10'
    alert_rule_test:
      - eval_time: 3m
        alertname: RedishappyRouteWrong
        exp_alerts:
          - exp_labels: { severity: critical, job: rh, instance: a, cluster: testing, output: haproxy, door: write }
            exp_annotations:
              runbook_url: "https://github.com/OWNER/redishappy/blob/main/docs/monitoring.md#redishappyroutewrong"
              summary: "Clients of testing do not reach the confirmed master through haproxy (a)"
              description: "For 1 minute a new connection through the haproxy output's front door has reached another instance than the confirmed master of cluster testing, or nothing, although the output applied it (and applied it again, VerifyRetries times). The instance reached or the error is in /api/topology (verification). Check that the ReloadCommand really reloads the proxy, that the proxy runs the written file, and that the template binds the cluster's ExternalPort."
`,
  );
  try {
    execFileSync('promtool', ['test', 'rules', 'test.yml'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`promtool: RedishappyRouteWrong does not fire as expected:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
