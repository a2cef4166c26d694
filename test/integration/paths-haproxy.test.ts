import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindFailure, retryOnPortClash, routedTo, startCluster, startRedis, startSentinel, waitFor, withCleanup } from '../harness/index.js';
import { ANY_PORT, daemonExited, runBin, waitListening } from '../support/daemon-process.js';
import { loopbackTemplate, prepareHaproxy, startHaproxyDaemon } from '../support/haproxy-setup.js';
import { accepts, editJson, logged, reloadCount, silentSocket } from '../support/paths.js';

/** Parses, but fails when executed: there is no 6th cluster. */
const EXEC_FAILURE = '{{ (index .Clusters 5).Name }}';

describe('HAProxy paths a user will hit (real haproxy, sentinels and daemon process)', { timeout: 300000 }, () => {
  it('SIGHUP: an output that cannot start keeps the previous configuration; removing a cluster takes its frontend out; /api/template, /api/haproxy, /api/ready', { timeout: 90000 }, () =>
    withCleanup(async (cleanup) => {
      const cluster = await startCluster(cleanup, { names: ['alpha', 'beta'], replicas: 0, sentinels: 1 });
      // API on a port the kernel picks; both clusters routed (started again on new ports if HAProxy could not bind a frontend's).
      const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: false });
      const [alphaExt, betaExt] = [setup.externalPorts.get('alpha')!, setup.externalPorts.get('beta')!];
      const [alpha, beta] = [cluster.masters.get('alpha')!, cluster.masters.get('beta')!];
      assert.deepEqual([await routedTo(alphaExt), await routedTo(betaExt)], [alpha.port, beta.port], 'both clusters routed');

      // The API shows the template in use and the file HAProxy runs; ready once applied.
      const template = readFileSync(setup.templatePath, 'utf8');
      assert.equal(await (await fetch(`${api}/api/template`)).text(), template);
      await waitFor(async () => (await (await fetch(`${api}/api/haproxy`)).text()) === readFileSync(setup.outputPath, 'utf8'), { timeoutMs: 5000, what: '/api/haproxy = the file' });
      assert.match(await (await fetch(`${api}/api/haproxy`)).text(), /frontend ft_beta/);
      const ready = await waitFor(async () => {
        const r = await fetch(`${api}/api/ready`);
        return r.status === 200 ? r : undefined;
      }, { timeoutMs: 10000, what: '/api/ready 200' });
      assert.deepEqual(await ready.json(), { ready: true, reasons: [] });

      // A template that parses but fails when executed: the new output cannot start, so the
      // reload is refused and the previous configuration (both clusters, old template) stays.
      const installed = readFileSync(setup.outputPath, 'utf8');
      const reloadsBefore = reloadCount(setup.reloadLog);
      writeFileSync(setup.templatePath, `${template}\n# ${EXEC_FAILURE}\n`);
      editJson(setup.configPath, (c) => (c.Clusters = c.Clusters.filter((x: { Name: string }) => x.Name === 'alpha')));
      d.child.kill('SIGHUP');
      const rejected = await waitFor(() => logged(d, 'configuration reload rejected (output could not start)')[0], { timeoutMs: 10000, what: 'reload refused' });
      assert.match(String(rejected.err), /haproxy_template\.cfg.*index|index.*out of range/i, `clear error: ${String(rejected.err)}`);
      const conf = (await (await fetch(`${api}/api/configuration`)).json()) as { clusters: Array<{ name: string }> };
      assert.deepEqual(conf.clusters.map((c) => c.name), ['alpha', 'beta'], 'previous configuration in force');
      assert.equal(await (await fetch(`${api}/api/template`)).text(), template, 'previous template in use');
      assert.equal(readFileSync(setup.outputPath, 'utf8'), installed, 'installed file untouched');
      assert.equal(reloadCount(setup.reloadLog), reloadsBefore, 'no reload');
      assert.equal(await routedTo(betaExt), beta.port);

      // Fixed template, same config without beta: beta's frontend leaves HAProxy, alpha stays.
      writeFileSync(setup.templatePath, template);
      d.child.kill('SIGHUP');
      await waitFor(() => logged(d, 'configuration reloaded').length === 1, { timeoutMs: 10000, what: 'reload accepted' });
      await waitFor(async () => !(await accepts(betaExt)), { timeoutMs: 15000, what: "beta's frontend gone from HAProxy" });
      assert.doesNotMatch(readFileSync(setup.outputPath, 'utf8'), /ft_beta/);
      assert.equal(reloadCount(setup.reloadLog), reloadsBefore + 1, 'one reload for the removal');
      assert.equal(await routedTo(alphaExt), alpha.port);

      // /api/ready names the output that has not applied the current topology, and why.
      editJson(setup.configPath, (c) => {
        c.Clusters.push({ Name: 'beta', ExternalPort: betaExt });
        c.HAProxy.ReloadCommand = 'echo reload refused by test >&2; exit 3';
      });
      d.child.kill('SIGHUP');
      const notReady = await waitFor(async () => {
        const r = await fetch(`${api}/api/ready`);
        const body = (await r.json()) as { ready: boolean; reasons: string[] };
        return r.status === 503 && body.reasons.some((x) => x.startsWith('output haproxy has not applied the current topology: ')) ? body : undefined;
      }, { timeoutMs: 20000, what: '/api/ready 503 with the reason' });
      assert.equal(notReady.ready, false);
      assert.ok(notReady.reasons.some((x) => /output haproxy has not applied the current topology: .*(reload refused by test|exit)/i.test(x)), notReady.reasons.join('\n'));

      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }),
  );

  it('ValidateCommand "" skips validation: a file HAProxy would reject is written and reloaded', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
      const setup = await prepareHaproxy(cleanup, cluster, { runtime: false });
      writeFileSync(setup.templatePath, loopbackTemplate(setup.adminSocket).replace('mode tcp', 'mode tcp\n bogus-keyword here'));
      editJson(setup.configPath, (c) => {
        c.HAProxy.ValidateCommand = '';
        c.HAProxy.ReloadCommand = `echo reload >> ${setup.reloadLog}`;
      });
      // HAProxy is never reloaded here (the reload command only logs): no frontend port is bound, and the API is on a port the kernel picks.
      const d = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', ANY_PORT]);
      const api = await waitListening(d);
      assert.equal(logged(d, 'HAProxy output ready')[0]?.validate, false);
      await waitFor(() => reloadCount(setup.reloadLog) === 1, { timeoutMs: 15000, what: 'the reload' });
      assert.match(readFileSync(setup.outputPath, 'utf8'), /bogus-keyword here/, 'written without validation');
      const status = (await (await fetch(`${api}/api/haproxy/status`)).json()) as { lastError: string | null; validationFailures?: number };
      assert.equal(status.lastError, null);
    }),
  );

  it('exit code 1: a template that fails when executed, and an API port in use', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
      const setup = await prepareHaproxy(cleanup, cluster, { runtime: false });
      const good = readFileSync(setup.templatePath, 'utf8');
      const installed = readFileSync(setup.outputPath, 'utf8');
      writeFileSync(setup.templatePath, `${good}\n# ${EXEC_FAILURE}\n`);
      const bad = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', ANY_PORT]);
      assert.equal(await bad.exited, 1);
      assert.match(bad.stderr(), /cannot start: .*haproxy_template\.cfg/);
      assert.match(bad.stderr(), /index|range/i);
      assert.equal(readFileSync(setup.outputPath, 'utf8'), installed, 'installed file untouched');

      writeFileSync(setup.templatePath, good);
      // The API port used twice: the first daemon binds a port the kernel picks and holds it while
      // the second is pointed at the same address, so the clash is certain (no freePort race, and
      // so nothing to retry).
      const first = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', ANY_PORT]);
      const api = await waitListening(first);
      const second = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', new URL(api).host]);
      assert.equal(await second.exited, 1);
      assert.match(second.stderr(), /address already in use/);
      assert.equal((await fetch(`${api}/api/ping`)).status, 200, 'the first daemon is unaffected');
    }),
  );

  it('live switch refused because the file was edited outside redishappy: falls back to a reload', { timeout: 90000 }, () =>
    withCleanup(async (cleanup) => {
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: 3000 });
      const [master, replica] = [cluster.masters.get('testing')!, cluster.replicas.get('testing')![0]!];
      const { setup, daemon: d } = await startHaproxyDaemon(cleanup, cluster, { runtime: true });
      const ext = setup.externalPorts.get('testing')!;
      assert.equal(await routedTo(ext), master.port, 'routing to the master');
      assert.equal(reloadCount(setup.reloadLog), 1);
      appendFileSync(setup.outputPath, '# edited by hand\n');
      const mark = d.logs().length;

      await master.kill('SIGKILL');
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'routing to the promoted replica' });
      // The first apply after the edit, whatever started it (the failover, or the replica leaving
      // .Replicas as its master died, which can come first), finds a file that differs from what
      // redishappy wrote: it is rewritten and reloaded, never switched live. A live switch may only
      // come after that rewrite.
      const lines = d.logs().slice(mark).map((l) => `${String(l.msg)}: ${String(l.reason ?? '')}`);
      const rewrittenAt = lines.findIndex((l) => l.startsWith('HAProxy configuration written and reloaded'));
      const liveAt = lines.findIndex((l) => l.startsWith('HAProxy switched to the new master live'));
      assert.ok(rewrittenAt >= 0 && (liveAt === -1 || liveAt > rewrittenAt), `no live switch while the edited file was on disk: ${JSON.stringify(lines.filter((l) => /reload|live/.test(l)))}`);
      // When the failover itself found the edit, the plan said why.
      if (liveAt === -1) assert.ok(lines.includes('change needs a reload: the configuration differs by more than the master addresses and read slots'), JSON.stringify(lines));
      assert.ok(reloadCount(setup.reloadLog) >= 2, 'reloaded instead');
      assert.doesNotMatch(readFileSync(setup.outputPath, 'utf8'), /edited by hand/, 'file rewritten from the template');
    }),
  );

  it('a runtime API that accepts and never answers: the command times out and the failover is applied by a reload', { timeout: 90000 }, () =>
    withCleanup(async (cleanup) => {
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: 3000 });
      const [master, replica] = [cluster.masters.get('testing')!, cluster.replicas.get('testing')![0]!];
      // HAProxy, the hung socket and the daemon (API on a port the kernel picks), until HAProxy routes
      // to the master; all started again on new ports if HAProxy could not bind the frontend's.
      const { setup, silent, d, api } = await retryOnPortClash(cleanup, 'HAProxy and redishappy', async (scope) => {
        const setup = await prepareHaproxy(scope, cluster, { runtime: true, apiPort: false });
        const hung = join(setup.dir, 'hung.sock');
        const silent = await silentSocket(scope, hung);
        editJson(setup.configPath, (c) => {
          c.HAProxy.RuntimeSocket = hung;
          c.HAProxy.RuntimeTimeoutMs = 1000;
        });
        const d = runBin(scope, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', ANY_PORT]);
        const api = await waitListening(d);
        const ext = setup.externalPorts.get('testing')!;
        await waitFor(async () => (await routedTo(ext).catch(() => 0)) === master.port, { timeoutMs: 15000, what: 'routing to the master', stopIf: () => bindFailure(setup.haproxy, [ext]) ?? daemonExited(d) });
        return { setup, silent, d, api };
      });
      const ext = setup.externalPorts.get('testing')!;

      await master.kill('SIGKILL');
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'routing to the promoted replica' });
      assert.ok(silent.connections() >= 1, 'the daemon really talked to the hung socket');
      const status = (await (await fetch(`${api}/api/haproxy/status`)).json()) as Record<string, unknown>;
      assert.match(JSON.stringify(status), /no answer from HAProxy runtime socket/);
      assert.ok(logged(d, 'live switch through the HAProxy runtime API failed').length >= 1);
      assert.ok(reloadCount(setup.reloadLog) >= 2, 'applied by a reload');
    }),
  );

  it('host-name and IPv6 masters through HAProxy', { timeout: 90000 }, () =>
    withCleanup(async (cleanup) => {
      // IPv6: the master on [::1], rendered into the file and routed by HAProxy.
      const m6 = await startRedis(cleanup, { host: '::1' });
      const s6 = await startSentinel(cleanup, { host: '::1', monitors: [{ name: 'six', host: '::1', port: m6.port, quorum: 1 }] });
      // Host name: sentinels announce "localhost"; a live switch needs an IP, so a change is reloaded.
      const mh = await startRedis(cleanup, { extraConf: ['replica-announce-ip localhost'] });
      const rh = await startRedis(cleanup, { replicaOf: { host: 'localhost', port: mh.port }, extraConf: ['replica-announce-ip localhost'] });
      const sh = await startSentinel(cleanup, { monitors: [{ name: 'named', host: 'localhost', port: mh.port, quorum: 1 }], extraConf: ['sentinel announce-hostnames yes', 'sentinel announce-ip localhost'] });
      // Not a ClusterFixture: what startHaproxyDaemon reads of one (names, sentinels, masters to wait for).
      const fake = { names: ['six', 'named'], sentinels: [s6], masters: new Map([['six', m6], ['named', mh]]) } as unknown as Parameters<typeof startHaproxyDaemon>[1];
      const { setup, daemon: d } = await startHaproxyDaemon(cleanup, fake, {
        runtime: true,
        edit: (s) => editJson(s.configPath, (c) => (c.Sentinels = [{ Host: '::1', Port: s6.port }, { Host: 'localhost', Port: sh.port }])),
        timeoutMs: 20000,
      });
      const [ext6, extH] = [setup.externalPorts.get('six')!, setup.externalPorts.get('named')!];
      assert.deepEqual([await routedTo(ext6), await routedTo(extH)], [m6.port, mh.port], 'both routed');
      assert.match(readFileSync(setup.outputPath, 'utf8'), new RegExp(`server R_six_1 ::1:${m6.port} `));
      assert.match(readFileSync(setup.outputPath, 'utf8'), new RegExp(`server R_named_1 localhost:${mh.port} `));

      const c = sh.client();
      await waitFor(async () => (await c.call('SENTINEL', 'FAILOVER', 'named').then(() => true, () => false)), { timeoutMs: 20000, what: 'SENTINEL FAILOVER accepted' });
      await waitFor(async () => (await routedTo(extH).catch(() => 0)) === rh.port, { timeoutMs: 30000, what: 'routing to the promoted replica' });
      assert.ok(logged(d, 'change needs a reload').some((l) => l.reason === 'localhost is not an IP address'));
      assert.equal(logged(d, 'HAProxy switched to the new master live').length, 0);
      assert.ok(reloadCount(setup.reloadLog) >= 2);
      assert.equal(await routedTo(ext6), m6.port);
    }),
  );
});
