import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, runProcess, waitListening } from '../support/daemon-process.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { needTool } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(ROOT, 'dist/packages');
const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/dpkg-deb') && existsSync('/usr/bin/dpkg');
const installSkip = canInstall ? false : 'needs root and dpkg (installs the .deb)';
const debs = () => readdirSync(DIR).filter((f) => f.endsWith('.deb')).sort();
const rpms = () => readdirSync(DIR).filter((f) => f.endsWith('.rpm')).sort();

/** Build the packages, check them with rpm and lintian, install each .deb and run the installed binary against real servers, purge. */
describe('packages (.deb, .rpm)', { timeout: 300000, skip: installSkip }, () => {
  const cleanup = useCleanup();
  before(() => {
    execFileSync('bash', [join(ROOT, 'scripts/package.sh')], { stdio: 'pipe' });
  });

  it('the .rpm packages hold the files and man pages', { skip: needTool('rpmbuild', 'rpm') }, () => {
    assert.equal(rpms().length, 2, 'package.sh built both rpms');
    const list = execFileSync('rpm', ['-qpl', join(DIR, rpms()[1]!)], { encoding: 'utf8' });
    for (const f of ['/usr/bin/redishappy-haproxy', '/usr/bin/redis-haproxy', '/etc/redishappy-haproxy/config.json', '/lib/systemd/system/redishappy-haproxy.service', '/usr/share/man/man8/redishappy-haproxy.8.gz', '/usr/share/man/man8/redis-haproxy.8.gz']) assert.ok(list.includes(f), `rpm lacks ${f}`);
  });

  it('lintian: no errors, no missing man page', { skip: needTool('lintian', 'lintian') }, () => {
    for (const deb of debs()) {
      // Warning left on purpose: the 0640 config (it may hold passwords).
      const report = execFileSync('lintian', ['--no-tag-display-limit', join(DIR, deb)], { encoding: 'utf8' });
      assert.doesNotMatch(report, /^E: /m, report);
      assert.doesNotMatch(report, /no-manual-page|manual-page/, report);
    }
  });

  it('redishappy-consul: contents, install, run, purge', async () => {
    assert.deepEqual(debs().map((f) => f.replace(/_.*/, '')), ['redishappy-consul', 'redishappy-haproxy']);
    const contents = execFileSync('dpkg-deb', ['-c', join(DIR, debs()[1]!)], { encoding: 'utf8' });
    for (const f of ['./usr/bin/redishappy-haproxy', './usr/bin/redis-haproxy', './etc/redishappy-haproxy/config.json', './etc/redishappy-haproxy/haproxy_template.cfg', './lib/systemd/system/redishappy-haproxy.service', './usr/share/man/man8/redishappy-haproxy.8.gz']) assert.ok(contents.includes(f), f);
    assert.match(execFileSync('dpkg-deb', ['-I', join(DIR, debs()[1]!), 'conffiles'], { encoding: 'utf8' }), /\/etc\/redishappy-haproxy\/config\.json/);

    cleanup.add(() => execFileSync('dpkg', ['--purge', 'redishappy-consul'], { stdio: 'ignore' }));
    execFileSync('dpkg', ['-i', join(DIR, debs()[0]!)], { stdio: 'pipe' });
    assert.ok(existsSync('/usr/bin/redis-consul'), "the original's binary name is installed");
    assert.ok(existsSync('/var/log/redishappy-consul'));
    assert.match(execFileSync('/usr/bin/redishappy-consul', ['--version'], { encoding: 'utf8' }), /^\d+\.\d+\.\d+/);

    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const cfgDir = mkdtempSync(join(tmpdir(), 'rh-deb-'));
    const cfg = join(cfgDir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Syslog: { Enabled: false }, Consul: { Address: '127.0.0.1:1', TimeoutMs: 200 } }));
    const d = runProcess(cleanup, '/usr/bin/redis-consul', ['-config', cfg, '-bind', ANY_PORT]);
    const api = await waitListening(d);
    await waitFor(async () => (await (await fetch(`${api}/api/ping`)).text()) === 'Pong', { timeoutMs: 15000, what: 'installed binary answers /api/ping' });
    d.child.kill('SIGTERM');
    await d.exited;

    execFileSync('dpkg', ['--purge', 'redishappy-consul'], { stdio: 'pipe' });
    assert.ok(!existsSync('/usr/bin/redishappy-consul') && !existsSync('/usr/lib/redishappy/redishappy-consul.mjs') && !existsSync('/var/log/redishappy-consul') && !existsSync('/etc/redishappy-consul') && !existsSync('/usr/share/man/man8/redishappy-consul.8.gz'), 'purged cleanly');
  });

  it('redishappy-haproxy: installed man page documents every --help flag; one real failover through HAProxy', async () => {
    cleanup.add(() => execFileSync('dpkg', ['--purge', 'redishappy-haproxy'], { stdio: 'ignore' }));
    execFileSync('dpkg', ['-i', join(DIR, debs()[1]!)], { stdio: 'pipe' });

    // Man page: every flag the installed --help lists is in the installed page.
    const help = execFileSync('/usr/bin/redis-haproxy', ['--help'], { encoding: 'utf8' });
    const flags = [...help.matchAll(/^ {2}(-\w, )?(--[\w-]+)/gm)].map((m) => m[2]!);
    assert.ok(flags.length >= 6, help);
    const source = execFileSync('zcat', ['/usr/share/man/man8/redishappy-haproxy.8.gz'], { encoding: 'utf8' }).replace(/\\-/g, '-');
    for (const f of flags) assert.ok(source.includes(f), `man page source lacks ${f}`);
    if (needTool('man', 'man-db') === false) {
      const rendered = execFileSync('man', ['-l', '/usr/share/man/man8/redis-haproxy.8.gz'], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100' } }); // not a terminal: man-db strips the formatting
      for (const f of flags) assert.ok(rendered.includes(f), `man -l output lacks ${f}`);
      for (const s of ['SYNOPSIS', 'ENVIRONMENT', 'FILES', 'SIGNALS', 'EXIT STATUS', 'EXAMPLES']) assert.ok(rendered.includes(s), s);
    }

    // The installed /usr/bin/redis-haproxy against real sentinels and a real HAProxy, through a failover.
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    // Until HAProxy routes to the first master (started again on new ports if a frontend port was taken).
    const { setup, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: false, run: (scope, args) => runProcess(scope, '/usr/bin/redis-haproxy', args) });
    const ext = setup.externalPorts.get('testing')!;
    await master.kill('SIGKILL');
    assert.ok(!master.running, 'the master really died');
    await waitFor(async () => (await routedTo(ext)) === replica.port, { timeoutMs: 60000, what: 'HAProxy routes to the new master' });
    const topology = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ name: string; port: number }>;
    assert.equal(topology.find((c) => c.name === 'testing')?.port, replica.port);

    execFileSync('dpkg', ['--purge', 'redishappy-haproxy'], { stdio: 'pipe' });
    assert.ok(!existsSync('/usr/share/man/man8/redishappy-haproxy.8.gz') && !existsSync('/usr/bin/redis-haproxy'), 'purged cleanly');
  });
});
