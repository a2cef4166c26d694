import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptingWorkers, freePort, nginxHead, routedTo, startCluster, useCleanup, waitFor, pidAlive } from '../harness/index.js';
import { assertOldMasterNeverRouted } from '../support/faq.js';
import { prepareNginx, exampleNginxTemplate, nginxFiles, startNginxDaemon } from '../support/nginx-setup.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { editJson } from '../support/paths.js';

/**
 * Template outputs against a real nginx (stream module, Debian's nginx + libnginx-mod-stream)
 * driven by the real daemon and real sentinels, with the shipped example template.
 */

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

interface OutputsBody {
  outputs?: Array<{ name: string; lastError: string | null; appliedVersion: number | null; details?: Record<string, unknown> }>;
}

/** Value of one series on /metrics (labels as written by prom-client, in order), or undefined. */
async function metric(api: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function outputStatus(api: string, name: string) {
  const body = (await (await fetch(`${api}/api/outputs`)).json()) as OutputsBody | OutputsBody['outputs'];
  const list = Array.isArray(body) ? body : (body?.outputs ?? []);
  return list!.find((o) => o.name === name);
}

describe('nginx stream template output end to end (real nginx + sentinels)', { timeout: 180000 }, () => {
  const cleanup = useCleanup();

  it('follows a kill -9 failover and never routes a new client to the restarted old master', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    // Started (and started again on a new port if nginx's port was taken) until nginx routes to the master.
    const { ng, ext, api, daemon: d } = await startNginxDaemon(cleanup, cluster, {
      edit: (c) => {
        c.templates = c.Templates; // keys are case-insensitive, as in every section
        delete c.Templates;
      },
    });
    assert.equal(reloads(ng.reloadLog), 1, 'one reload at start-up');
    assert.match(readFileSync(ng.outputPath, 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${master.port};`));

    const workersBefore = acceptingWorkers(ng.nginx);
    assert.ok(workersBefore.length > 0, 'nginx has a worker taking connections');
    await master.kill('SIGKILL');
    assert.equal(master.running, false, 'the master really died');
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'nginx routes to the promoted replica' });
    assert.equal(reloads(ng.reloadLog), 2, 'exactly one reload for the failover');
    // nginx's reload is asynchronous: its old workers (old upstream) take new connections for
    // about 100 ms after the new ones start. The switch is complete once none of them does.
    await waitFor(() => !acceptingWorkers(ng.nginx).some((pid) => workersBefore.includes(pid)), { timeoutMs: 10000, what: "nginx's old workers to stop accepting" });

    // The FAQ scenario: the old master comes back announcing itself as master; it must never get a client.
    await assertOldMasterNeverRouted(ext, master, replica.port, 'nginx');
    const st = await outputStatus(api, 'nginx');
    assert.equal(st?.lastError, null);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });

  it('nginx and HAProxy side by side: a broken nginx template is refused (file untouched) while HAProxy and a plain file still follow the failover', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    // nginx never binds this port: nginx -t refuses the config (freePort only so that a config
    // wrongly accepted would fail on the refusal checks below, not on a port in use).
    const nginxExt = await freePort();
    // Renders fine, but nginx -t refuses it.
    const ng = await prepareNginx(cleanup, { template: (dir) => exampleNginxTemplate(dir).replace('stream {', 'stream {\n    no_such_directive on;') });
    const nginxBefore = readFileSync(ng.outputPath, 'utf8');
    const jsonPath = join(ng.dir, 'masters.json');
    const templates = [
      ng.entry,
      {
        Name: 'masters-json',
        TemplatePath: new URL('../../examples/file/masters.json.tmpl', import.meta.url).pathname,
        OutputPath: jsonPath,
        ValidateCommand: `node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' {file}`,
      },
    ];
    // nginx listens on its own port for the same cluster: ExternalPort is per cluster, so shift it in the template.
    writeFileSync(ng.templatePath, readFileSync(ng.templatePath, 'utf8').replace('listen 127.0.0.1:{{.ExternalPort}};', `listen 127.0.0.1:${nginxExt};`));
    // Started (and started again on new ports if a frontend port was taken) until HAProxy routes to the master.
    const { setup: hp, api, daemon: d } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: false,
      edit: (setup) => editJson(setup.configPath, (config) => (config.Templates = templates)),
    });
    const ext = hp.externalPorts.get('testing')!;
    const nginxStatus = await waitFor(async () => {
      const s = await outputStatus(api, 'nginx');
      return s?.lastError ? s : undefined;
    }, { timeoutMs: 15000, what: 'nginx refusal visible in /api/outputs' });
    assert.match(String(nginxStatus.lastError), /no_such_directive|unknown directive/);
    assert.equal(readFileSync(ng.outputPath, 'utf8'), nginxBefore, 'the installed nginx file is untouched');
    assert.equal(reloads(ng.reloadLog), 0, 'nginx never reloaded');
    const json = await waitFor(() => (existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) as { clusters: Array<{ port: number; confirmed: boolean }> } : undefined), { timeoutMs: 10000, what: 'the JSON file' });
    assert.equal(json.clusters[0]!.port, master.port);

    await master.kill('SIGKILL');
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'HAProxy switched to the promoted replica' });
    await waitFor(() => (JSON.parse(readFileSync(jsonPath, 'utf8')) as { clusters: Array<{ port: number }> }).clusters[0]!.port === replica.port, { timeoutMs: 10000, what: 'the JSON file names the new master' });
    assert.equal(readFileSync(ng.outputPath, 'utf8'), nginxBefore, 'still untouched after the failover');
    assert.ok(ng.nginx.running, 'nginx still runs its old config');
    const hpStatus = await outputStatus(api, 'haproxy');
    assert.equal(hpStatus?.lastError, null);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });
  it('a template edit that renders but fails nginx -t is refused: the installed file stays byte for byte and nginx keeps routing', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const master = cluster.masters.get('testing')!;
    const { ng, ext, api, daemon: d } = await startNginxDaemon(cleanup, cluster);
    const good = readFileSync(ng.outputPath, 'utf8');
    writeFileSync(ng.templatePath, readFileSync(ng.templatePath, 'utf8').replace('proxy_pass redis_{{.Name}};', 'proxy_pass redis_{{.Name}};\n        proxy_bogus_directive on;'));
    d.child.kill('SIGHUP');
    const st = await waitFor(async () => {
      const s = await outputStatus(api, 'nginx');
      return s?.lastError ? s : undefined;
    }, { timeoutMs: 15000, what: 'nginx refusal in /api/outputs' });
    assert.match(String(st.lastError), /proxy_bogus_directive/);
    assert.equal(readFileSync(ng.outputPath, 'utf8'), good, 'installed file kept byte for byte');
    assert.equal(reloads(ng.reloadLog), 1, 'no reload for the refused file');
    assert.deepEqual(readdirSync(ng.dir).filter((n) => n.endsWith('.tmp')), [], 'the refused candidate was removed');
    assert.equal(await routedTo(ext), master.port);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });

  it('a template output whose reload hangs does not hold back HAProxy or a JSON file output; once it fails it shows in /api/outputs and /metrics', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    // nginx's files, but its reload never returns: the reload shell records its pid (= its
    // process group) and becomes a long sleep. ReloadTimeoutMs is longer than the whole test.
    const ng = nginxFiles();
    const nginxExt = await freePort(); // nginx -t does not bind; only so that the file is a valid config
    writeFileSync(ng.templatePath, readFileSync(ng.templatePath, 'utf8').replace('listen 127.0.0.1:{{.ExternalPort}};', `listen 127.0.0.1:${nginxExt};`));
    const installed = `${nginxHead(ng.dir)}stream {\n}\n`;
    writeFileSync(ng.outputPath, installed);
    const pidLog = join(ng.dir, 'reload-pids');
    const reloadPids = () => (existsSync(pidLog) ? readFileSync(pidLog, 'utf8').split('\n').filter(Boolean).map(Number) : []);
    // The reload commands run in their own process groups, which outlive the daemon: kill them.
    cleanup.add(() => {
      for (const pid of reloadPids()) if (pidAlive(-pid)) process.kill(-pid, 'SIGKILL');
    });
    const jsonPath = join(ng.dir, 'masters.json');
    const templates = [
      { ...ng.entry, ReloadCommand: `echo $$ >> ${pidLog}; exec sleep 300`, ReloadTimeoutMs: 120000 },
      { Name: 'masters-json', TemplatePath: new URL('../../examples/file/masters.json.tmpl', import.meta.url).pathname, OutputPath: jsonPath },
    ];
    const { setup: hp, api, daemon: d } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: false,
      edit: (setup) => editJson(setup.configPath, (config) => (config.Templates = templates)),
    });
    const ext = hp.externalPorts.get('testing')!;

    // The fault really happened: nginx's first reload is running and has not returned.
    const [stuck] = await waitFor(() => (reloadPids().length > 0 ? reloadPids() : undefined), { timeoutMs: 15000, what: "nginx's reload command to start" });
    assert.ok(pidAlive(stuck!), 'the reload command is still running');
    type Json = { clusters: Array<{ name: string; confirmed: boolean; ip: string; port: number; replicas: Array<{ ip: string; port: number }> }> };
    const readJson = () => (existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Json) : undefined);
    // Replicas as the real sentinels report them.
    const before = await waitFor(() => {
      const j = readJson();
      return j && j.clusters[0]?.replicas.length === 1 ? j : undefined;
    }, { timeoutMs: 20000, what: 'the JSON file to list the replica' });
    assert.equal(before.clusters[0]!.name, 'testing');
    assert.equal(before.clusters[0]!.confirmed, true);
    assert.equal(before.clusters[0]!.port, master.port);
    assert.deepEqual(before.clusters[0]!.replicas, [{ ip: '127.0.0.1', port: replica.port }]);

    await master.kill('SIGKILL');
    assert.equal(master.running, false, 'the master really died');
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'HAProxy switched to the promoted replica' });
    const after = await waitFor(() => {
      const j = readJson();
      return j && j.clusters[0]!.port === replica.port ? j : undefined;
    }, { timeoutMs: 15000, what: 'the JSON file to name the new master' });
    assert.ok(!after.clusters[0]!.replicas.some((r) => r.port === replica.port), 'the new master is not listed as a replica');
    // Both switched while nginx's first reload was still hanging.
    assert.deepEqual(reloadPids(), [stuck], 'still the first reload');
    assert.ok(pidAlive(stuck!), 'and it is still running');
    assert.equal((await outputStatus(api, 'nginx'))?.details?.reloadFailures, 0);

    // Now the stuck reload fails (killed): the failure shows, the others stay clean.
    process.kill(-stuck!, 'SIGKILL');
    const failed = await waitFor(async () => {
      const s = await outputStatus(api, 'nginx');
      return s?.lastError ? s : undefined;
    }, { timeoutMs: 15000, what: "nginx's failed reload in /api/outputs" });
    assert.match(String(failed.lastError), /reload command killed by SIGKILL/);
    assert.ok(Number(failed.details?.reloadFailures) >= 1);
    assert.ok((await metric(api, 'redishappy_output_apply_failures_total{output="nginx"}'))! >= 1, 'nginx apply failures counted');
    assert.equal(await metric(api, 'redishappy_output_in_error{output="nginx"}'), 1);
    assert.ok((await metric(api, 'redishappy_output_events{output="nginx",kind="reload_failures"}'))! >= 1);
    for (const name of ['haproxy', 'masters-json']) {
      assert.equal((await outputStatus(api, name))?.lastError, null, `${name} has no error`);
      assert.equal(await metric(api, `redishappy_output_apply_failures_total{output="${name}"}`), 0, `${name} never failed`);
      assert.equal(await metric(api, `redishappy_output_in_error{output="${name}"}`), 0);
    }
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });
});
