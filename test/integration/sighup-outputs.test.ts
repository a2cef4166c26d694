import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Daemon } from '../../src/cli/daemon.js';
import { loadConfigFile } from '../../src/config/load.js';
import { TemplateFileOutput } from '../../src/outputs/file/file-output.js';
import { startCluster, testCleanup, waitFor, type ClusterFixture } from '../harness/index.js';
import { loopbackTemplate } from '../support/haproxy-setup.js';
import { startConfigDaemon } from '../support/config-daemon.js';
import { daemonExited } from '../support/daemon-process.js';
import { logged } from '../support/paths.js';
import { FAST_WATCHER } from '../support/watch.js';

/** SIGHUP that adds and removes outputs; an output whose init fails leaves none of the others running. */

const SAFE_DOWN_AFTER_MS = 3000;
const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

/** An Exec hook that appends the new master's port to `log`. */
const portLogger = (log: string) => ({ Command: process.execPath, Args: ['-e', `require('fs').appendFileSync(${JSON.stringify(log)}, process.env.REDISHAPPY_NEW_MASTER_PORT + '\\n')`] });

async function failOver(cluster: ClusterFixture, name: string, from: { host: string; port: number }): Promise<{ ip: string; port: number }> {
  await cluster.forceFailover(name);
  return cluster.waitForFailover(name, from);
}

/**
 * Records which template-file outputs (HAProxy is one) had init() run and which were closed, in
 * order, by wrapping the prototype methods (the daemon builds its outputs itself). Restored after the test.
 */
function recordOutputLifecycle(t: { after: (fn: () => void) => void }) {
  const proto = TemplateFileOutput.prototype as unknown as { init: () => Promise<void>; close: () => Promise<void> };
  const started: object[] = [];
  const closed: object[] = [];
  const { init, close } = proto;
  proto.init = async function (this: object) {
    await init.call(this);
    started.push(this);
  };
  proto.close = async function (this: object) {
    closed.push(this);
    await close.call(this);
  };
  t.after(() => Object.assign(proto, { init, close }));
  return { started, closed };
}

describe('outputs across SIGHUP (real sentinels)', { timeout: 300000 }, () => {
  it('SIGHUP adding a template output writes its file; an Exec hook removed no longer runs on the next failover', { timeout: 120000 }, async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 1, sentinels: 1, downAfterMs: SAFE_DOWN_AFTER_MS });
    const master = cluster.masters.get('alpha')!;
    const dir = mkdtempSync(join(tmpdir(), 'rh-sighup-outputs-'));
    const removedLog = join(dir, 'removed-hook.log');
    const keptLog = join(dir, 'new-hook.log');
    const template = join(dir, 'listing.tmpl');
    const listing = join(dir, 'listing.txt');
    writeFileSync(template, '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}');
    const base = { Clusters: [{ Name: 'alpha', ExternalPort: 7201 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }] };
    const rh = await startConfigDaemon(cleanup, { ...base, Exec: [portLogger(removedLog)] });
    await waitFor(async () => (await rh.cluster('alpha'))?.port === master.port, { timeoutMs: 15000, what: 'alpha confirmed', stopIf: () => daemonExited(rh.d) });

    // The hook runs on a failover while it is configured.
    const first = await failOver(cluster, 'alpha', master);
    await waitFor(() => lines(removedLog).includes(String(first.port)), { timeoutMs: 20000, what: 'the first hook run for the first failover', stopIf: () => daemonExited(rh.d) });

    // SIGHUP: that hook replaced by another one, and a template output added.
    assert.equal(existsSync(listing), false);
    rh.write({ ...base, Exec: [portLogger(keptLog)], Templates: [{ Name: 'listing', TemplatePath: template, OutputPath: listing }] });
    rh.d.child.kill('SIGHUP');
    await waitFor(() => logged(rh.d, 'configuration reloaded').length === 1, { timeoutMs: 15000, what: 'reload accepted', stopIf: () => daemonExited(rh.d) });
    await waitFor(() => existsSync(listing) && readFileSync(listing, 'utf8') === `alpha 127.0.0.1:${first.port}\n`, { timeoutMs: 15000, what: 'the added template output to write its file', stopIf: () => daemonExited(rh.d) });

    const second = await failOver(cluster, 'alpha', { host: first.ip, port: first.port });
    await waitFor(() => lines(keptLog).includes(String(second.port)), { timeoutMs: 20000, what: 'the new hook run for the second failover', stopIf: () => daemonExited(rh.d) });
    await waitFor(() => readFileSync(listing, 'utf8') === `alpha 127.0.0.1:${second.port}\n`, { timeoutMs: 15000, what: 'the template output to follow the second failover', stopIf: () => daemonExited(rh.d) });
    assert.deepEqual(lines(removedLog), [String(first.port)], 'the removed hook did not run for the second failover');
    assert.deepEqual(lines(keptLog), [String(second.port)]);
  });

  /**
   * Outputs are built in a fixed order (HAProxy, Consul, templates...). `bad` has HAProxy (starts),
   * then Consul over https with a CA file that is not there (its init throws: the file is read
   * only then), then a template output (never reached).
   */
  async function failingSecondOutput(cleanup: ReturnType<typeof testCleanup>) {
    const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 0, sentinels: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-init-fails-'));
    const haproxyTemplate = join(dir, 'haproxy.tmpl');
    writeFileSync(haproxyTemplate, loopbackTemplate(join(dir, 'admin.sock')));
    const template = join(dir, 'listing.tmpl');
    writeFileSync(template, '{{range .Clusters}}{{.Name}}\n{{end}}');
    const missingCa = join(dir, 'missing-ca.pem');
    const configPath = join(dir, 'config.json');
    const good = {
      Clusters: [{ Name: 'alpha', ExternalPort: 7201 }],
      Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }],
      Watcher: FAST_WATCHER,
      Syslog: { Enabled: false },
      HAProxy: { TemplatePath: haproxyTemplate, OutputPath: join(dir, 'haproxy.cfg'), ReloadCommand: 'true' },
    };
    const bad = {
      ...good,
      Consul: { Address: '127.0.0.1:8501', Scheme: 'https', CaFile: missingCa, Services: [{ Cluster: 'alpha' }] },
      Templates: [{ Name: 'listing', TemplatePath: template, OutputPath: join(dir, 'listing.txt') }],
    };
    const write = (c: object) => writeFileSync(configPath, JSON.stringify(c));
    const logLines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void logLines.push(l) });
    const daemon = (cfg: object) => {
      write(cfg);
      const d = new Daemon({ flavour: 'auto', configPath, config: loadConfigFile(configPath, {}, 'auto').config, logger, listen: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
      cleanup.add(() => d.stop());
      return d;
    };
    return { cluster, missingCa, good, bad, write, daemon, logLines, outputPath: good.HAProxy.OutputPath };
  }

  it('a SIGHUP whose second output cannot start closes the first one it started, and keeps the running outputs', { timeout: 90000 }, async (t) => {
    const cleanup = testCleanup(t);
    const f = await failingSecondOutput(cleanup);
    const life = recordOutputLifecycle(t);
    const d = f.daemon(f.good);
    await d.start();
    const master = f.cluster.masters.get('alpha')!;
    await waitFor(() => existsSync(f.outputPath) && readFileSync(f.outputPath, 'utf8').includes(`127.0.0.1:${master.port}`), { timeoutMs: 15000, what: 'the running HAProxy output to write alpha' });
    const running = [...life.started];
    assert.equal(running.length, 1, 'the HAProxy output started');

    f.write(f.bad);
    assert.equal(await d.reload(), false, 'reload rejected');
    // The fault happened where intended: the Consul output's init could not read its CA file.
    assert.ok(f.logLines.some((l) => l.includes('output could not start') && l.includes(f.missingCa)), 'rejected because the Consul CA file could not be read');
    const startedByReload = life.started.filter((o) => !running.includes(o));
    assert.equal(startedByReload.length, 1, 'the new HAProxy output started, the template output after Consul never did');
    assert.deepEqual(life.closed, startedByReload, 'the new HAProxy output is closed');
    assert.ok(f.logLines.some((l) => l.includes('still running on the previous configuration')));
  });

  it('a start whose second output cannot start closes the first one it started', { timeout: 90000 }, async (t) => {
    const cleanup = testCleanup(t);
    const f = await failingSecondOutput(cleanup);
    const life = recordOutputLifecycle(t);
    const d = f.daemon(f.bad);
    await assert.rejects(d.start(), (err: Error) => err.message.includes(f.missingCa), 'start refused on the missing CA file');
    assert.equal(life.started.length, 1, 'the HAProxy output started before Consul failed');
    assert.deepEqual(life.closed, life.started, 'and is closed');
  });
});
