import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startCluster, useCleanup, waitFor } from '../harness/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/dpkg-deb') && existsSync('/usr/bin/dpkg');

/** Build the .deb packages, install one with dpkg, run the installed binary against a real sentinel, purge it. */
describe('Debian packages', { timeout: 120000, skip: canInstall ? false : 'needs root and dpkg' }, () => {
  const cleanup = useCleanup();

  it('build, install, run, purge', async () => {
    execFileSync('bash', [join(ROOT, 'scripts/package.sh')], { stdio: 'pipe' });
    const dir = join(ROOT, 'dist/packages');
    const debs = readdirSync(dir).filter((f) => f.endsWith('.deb')).sort();
    const rpms = readdirSync(dir).filter((f) => f.endsWith('.rpm')).sort();
    if (existsSync('/usr/bin/rpm')) {
      assert.equal(rpms.length, 2);
      const list = execFileSync('rpm', ['-qpl', join(dir, rpms[1]!)], { encoding: 'utf8' });
      for (const f of ['/usr/bin/redishappy-haproxy', '/usr/bin/redis-haproxy', '/etc/redishappy-haproxy/config.json', '/lib/systemd/system/redishappy-haproxy.service']) assert.ok(list.includes(f), `rpm lacks ${f}`);
    }
    if (existsSync('/usr/bin/lintian')) {
      // Errors fail; warnings (no man page, 0640 config holding secrets) are accepted.
      const report = execFileSync('lintian', ['--no-tag-display-limit', join(dir, debs[0]!)], { encoding: 'utf8' });
      assert.doesNotMatch(report, /^E: /m, report);
    }
    assert.deepEqual(debs.map((f) => f.replace(/_.*/, '')), ['redishappy-consul', 'redishappy-haproxy']);
    const contents = execFileSync('dpkg-deb', ['-c', join(dir, debs[1]!)], { encoding: 'utf8' });
    for (const f of ['./usr/bin/redishappy-haproxy', './usr/bin/redis-haproxy', './etc/redishappy-haproxy/config.json', './etc/redishappy-haproxy/haproxy_template.cfg', './lib/systemd/system/redishappy-haproxy.service']) assert.ok(contents.includes(f), f);
    assert.match(execFileSync('dpkg-deb', ['-f', join(dir, debs[1]!), 'Conffiles'], { encoding: 'utf8' }) + execFileSync('dpkg-deb', ['-I', join(dir, debs[1]!), 'conffiles'], { encoding: 'utf8' }), /\/etc\/redishappy-haproxy\/config\.json/);

    cleanup.add(() => execFileSync('dpkg', ['--purge', 'redishappy-consul'], { stdio: 'ignore' }));
    execFileSync('dpkg', ['-i', join(dir, debs[0]!)], { stdio: 'pipe' });
    assert.ok(existsSync('/usr/bin/redis-consul'), "the original's binary name is installed");
    assert.ok(existsSync('/var/log/redishappy-consul'));
    assert.match(execFileSync('/usr/bin/redishappy-consul', ['--version'], { encoding: 'utf8' }), /^\d+\.\d+\.\d+/);

    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const cfgDir = mkdtempSync(join(tmpdir(), 'rh-deb-'));
    const cfg = join(cfgDir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Syslog: { Enabled: false }, Consul: { Address: '127.0.0.1:1', TimeoutMs: 200 } }));
    const port = await freePort();
    const child = spawn('/usr/bin/redis-consul', ['-config', cfg, '-bind', `127.0.0.1:${port}`], { stdio: 'ignore' });
    cleanup.add(() => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGKILL')))));
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${port}/api/ping`)).text()) === 'Pong', { timeoutMs: 15000, what: 'installed binary answers /api/ping' });
    child.kill('SIGTERM');
    await waitFor(() => child.exitCode !== null, { timeoutMs: 10000, what: 'stopped' });

    execFileSync('dpkg', ['--purge', 'redishappy-consul'], { stdio: 'pipe' });
    assert.ok(!existsSync('/usr/bin/redishappy-consul') && !existsSync('/usr/lib/redishappy/redishappy-consul.mjs') && !existsSync('/var/log/redishappy-consul') && !existsSync('/etc/redishappy-consul'), 'purged cleanly');
  });
});
