import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, testCleanup, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, runNode, runProcess, waitListening } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The single-file build (esbuild) runs on its own: help, version, a real daemon, the status page. */
describe('single-file bundle', { timeout: 90000 }, () => {
  const cleanup = useCleanup();
  let built: string | undefined;

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

    // The startup snapshot and its stamp (this Node, this machine), and the start script using it.
    assert.ok(statSync(join(out, 'redishappy.blob')).size > 1_000_000);
    assert.ok(readFileSync(join(out, 'redishappy.blob.stamp'), 'utf8').startsWith(`${process.version} `));
    assert.ok(statSync(join(out, 'launch')).mode & 0o100, 'launch is executable');
    built = out;

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

  it('a build without a snapshot (BUILD_SNAPSHOT=0) leaves no earlier blob behind to match its own stamp', () => {
    assert.ok(built, 'the build test ran first');
    const dir = mkdtempSync(join(tmpdir(), 'rh-bundle-rebuild-'));
    cpSync(built, dir, { recursive: true });
    assert.ok(statSync(join(dir, 'redishappy.blob')).size > 0, 'an earlier build left a blob');
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), dir], { stdio: 'pipe', env: { ...process.env, BUILD_SNAPSHOT: '0' } });
    for (const f of ['redishappy.blob', 'redishappy.blob.stamp']) assert.throws(() => statSync(join(dir, f)), /ENOENT/, `${f} removed`);
  });

  // A blob Node cannot use must cost nothing but the snapshot: launch starts from the bundle and
  // says nothing. Each fault is first shown to be real (Node itself refuses or aborts on it).
  const faults: Array<{ name: string; apply(dir: string): void; nodeRefuses: boolean }> = [
    {
      name: 'made by another Node version',
      nodeRefuses: true,
      apply(dir) {
        // What a blob of another Node is: its own version in the header, and a stamp to match.
        const blob = join(dir, 'redishappy.blob');
        const bytes = readFileSync(blob);
        const at = bytes.subarray(0, 64).indexOf(process.versions.node);
        assert.ok(at > 0, 'the blob names its Node version in its header');
        bytes.write('0.0.0'.padEnd(process.versions.node.length, '0'), at, 'latin1');
        writeFileSync(blob, bytes);
        const [crc, size] = execFileSync('cksum', { input: bytes, encoding: 'utf8' }).trim().split(' ');
        writeFileSync(`${blob}.stamp`, `v${'0.0.0'.padEnd(process.versions.node.length, '0')} ${execFileSync('uname', ['-sm'], { encoding: 'utf8' }).trim()} ${crc} ${size}\n`);
      },
    },
    {
      name: 'damaged',
      nodeRefuses: true,
      apply(dir) {
        const blob = join(dir, 'redishappy.blob');
        const bytes = readFileSync(blob);
        for (let i = 4096; i < 4100; i++) bytes[i] = bytes[i]! ^ 0xff;
        writeFileSync(blob, bytes);
      },
    },
    { name: 'missing', nodeRefuses: false, apply: (dir) => rmSync(join(dir, 'redishappy.blob')) },
  ];
  for (const fault of faults) {
    it(`launch: a startup snapshot ${fault.name} falls back silently to the bundle`, async (t) => {
      const scope = testCleanup(t);
      assert.ok(built, 'the build test ran first');
      const dir = mkdtempSync(join(tmpdir(), 'rh-bundle-fault-'));
      cpSync(built, dir, { recursive: true });
      const entry = join(dir, 'auto.mjs');
      writeFileSync(entry, 'const { main } = await import("./redishappy.js");\nawait main("auto");\n');
      fault.apply(dir);
      if (fault.nodeRefuses) {
        const refused = spawnSync(process.execPath, ['--max-semi-space-size=1', '--snapshot-blob', join(dir, 'redishappy.blob'), entry, '--version'], { encoding: 'utf8' });
        assert.ok(refused.status !== 0, `node itself refuses the blob (exit ${refused.status ?? refused.signal})`);
      }
      const cluster = await startCluster(scope, { names: ['testing'], replicas: 0, sentinels: 1 });
      const cfg = join(dir, 'config.json');
      writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Watcher: FAST_WATCHER, Syslog: { Enabled: false } }));
      const d = runProcess(scope, join(dir, 'launch'), [entry, '-config', cfg, '-bind', ANY_PORT], { REDISHAPPY_CODE_CACHE: 'check' }, dir);
      const api = await waitListening(d);
      await waitFor(async () => ((await (await fetch(`${api}/api/topology`)).json()) as Array<{ port: number | null }>)[0]?.port === cluster.masters.get('testing')!.port, { timeoutMs: 15000, what: 'the daemon confirms the master' });
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0, 'clean exit');
      // Silent: the only line on standard error is the one REDISHAPPY_CODE_CACHE=check asks for.
      assert.equal(d.stderr(), 'code cache: used\n');
    });
  }
});
