import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptingWorkers, freePort, routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { assertOldMasterNeverRouted } from '../support/faq.js';
import { runBin, waitListening } from '../support/daemon-process.js';
import { prepareNginx, exampleNginxTemplate } from '../support/nginx-setup.js';
import { prepareHaproxy } from '../support/haproxy-setup.js';
import { FAST_WATCHER } from '../support/watch.js';

/**
 * Template outputs against a real nginx (stream module, Debian's nginx + libnginx-mod-stream)
 * driven by the real daemon and real sentinels, with the shipped example template.
 */

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

interface OutputsBody {
  outputs?: Array<{ name: string; lastError: string | null; appliedVersion: number | null; details?: Record<string, unknown> }>;
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
    const ng = await prepareNginx(cleanup);
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const ext = await freePort();
    const apiPort = await freePort();
    const configPath = join(ng.dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({
      Clusters: [{ Name: 'testing', ExternalPort: ext }],
      Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
      Watcher: FAST_WATCHER,
      Syslog: { Enabled: false },
      templates: [ng.entry], // keys are case-insensitive, as in every section
    }));
    const d = runBin(cleanup, 'redishappy', ['-config', configPath, '-bind', `127.0.0.1:${apiPort}`]);
    await waitListening(d);
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === master.port, { timeoutMs: 20000, what: 'nginx routes to the master' });
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
    const st = await outputStatus(`http://127.0.0.1:${apiPort}`, 'nginx');
    assert.equal(st?.lastError, null);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
  });

  it('nginx and HAProxy side by side: a broken nginx template is refused (file untouched) while HAProxy and a plain file still follow the failover', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const hp = await prepareHaproxy(cleanup, cluster, { runtime: false });
    const ext = hp.externalPorts.get('testing')!;
    const nginxExt = await freePort();
    // Renders fine, but nginx -t refuses it.
    const ng = await prepareNginx(cleanup, { template: (dir) => exampleNginxTemplate(dir).replace('stream {', 'stream {\n    no_such_directive on;') });
    const nginxBefore = readFileSync(ng.outputPath, 'utf8');
    const jsonPath = join(ng.dir, 'masters.json');
    const config = JSON.parse(readFileSync(hp.configPath, 'utf8')) as Record<string, unknown>;
    config.Templates = [
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
    writeFileSync(hp.configPath, JSON.stringify(config));
    const d = runBin(cleanup, 'redishappy-haproxy', ['-config', hp.configPath, '-bind', `127.0.0.1:${hp.apiPort}`]);
    await waitListening(d);
    const api = `http://127.0.0.1:${hp.apiPort}`;
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === master.port, { timeoutMs: 20000, what: 'HAProxy routes to the master' });
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
    const ng = await prepareNginx(cleanup);
    const master = cluster.masters.get('testing')!;
    const ext = await freePort();
    const apiPort = await freePort();
    const configPath = join(ng.dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({
      Clusters: [{ Name: 'testing', ExternalPort: ext }],
      Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
      Watcher: FAST_WATCHER,
      Syslog: { Enabled: false },
      Templates: [ng.entry],
    }));
    const d = runBin(cleanup, 'redishappy', ['-config', configPath, '-bind', `127.0.0.1:${apiPort}`]);
    await waitListening(d);
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === master.port, { timeoutMs: 20000, what: 'nginx routes to the master' });
    const good = readFileSync(ng.outputPath, 'utf8');
    writeFileSync(ng.templatePath, readFileSync(ng.templatePath, 'utf8').replace('proxy_pass redis_{{.Name}};', 'proxy_pass redis_{{.Name}};\n        proxy_bogus_directive on;'));
    d.child.kill('SIGHUP');
    const api = `http://127.0.0.1:${apiPort}`;
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
});
