import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, runNode, waitListening } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The single-file build (esbuild) runs on its own: help, version, a real daemon, the status page. */
describe('single-file bundle', { timeout: 90000 }, () => {
  const cleanup = useCleanup();

  it('builds, and the bundle serves a real cluster with no node_modules', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rh-bundle-'));
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), out], { stdio: 'pipe' });
    // The entry (redishappy.js) loads the daemon (redishappy.cjs) with the V8 code cache the build made.
    const bundle = join(out, 'redishappy.js');
    assert.ok(statSync(join(out, 'redishappy.cjs')).size > 100_000);
    assert.ok(statSync(join(out, 'redishappy.cjs.cache')).size > 100_000);
    // Run from a directory with no node_modules to prove nothing is loaded from there.
    const runner = join(out, 'run.mjs');
    writeFileSync(runner, `const { main } = await import(${JSON.stringify(bundle)});\nawait main('auto');\n`);
    assert.match(execFileSync(process.execPath, [runner, '--version'], { cwd: out, encoding: 'utf8' }), /^\d+\.\d+\.\d+/);
    // Run as the launchers run it (their V8 flag), the build's code cache is accepted.
    const checked = spawnSync(process.execPath, ['--max-semi-space-size=1', runner, '--version'], { cwd: out, encoding: 'utf8', env: { ...process.env, REDISHAPPY_CODE_CACHE: 'check' } });
    assert.match(checked.stdout, /^\d+\.\d+\.\d+/);
    assert.match(checked.stderr, /^code cache: used$/m);

    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const cfg = join(out, 'config.json');
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Watcher: FAST_WATCHER, Syslog: { Enabled: false } }));
    const d = runNode(cleanup, [runner, '-config', cfg, '-bind', ANY_PORT], {}, out);
    const api = await waitListening(d);
    const topo = await waitFor(async () => {
      const t = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ port: number | null }>;
      return t[0]?.port ? t : undefined;
    }, { timeoutMs: 15000, what: 'bundle confirms the master' });
    assert.equal(topo[0]!.port, cluster.masters.get('testing')!.port);
    assert.match(await (await fetch(`${api}/`)).text(), /redishappy status/);
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, 'clean exit');
  });
});
