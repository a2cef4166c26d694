import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Cleanup, routedTo, startCluster, waitFor } from '../harness/index.js';
import { bundlePath, runBundle } from '../support/bundle-process.js';
import { runProcess } from '../support/daemon-process.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** As the packages start it: `launch` (scripts/launch.sh) beside the bundle, with its startup snapshot. */
function runLaunched(cleanup: Cleanup, args: string[]) {
  const dir = dirname(bundlePath());
  const entry = join(dir, 'test-haproxy.mjs');
  writeFileSync(entry, 'const { main } = await import("./redishappy.js");\nawait main("haproxy");\n');
  return runProcess(cleanup, join(dir, 'launch'), [entry, ...args], { REDISHAPPY_CODE_CACHE: 'check' }, dir);
}

/**
 * The single-file bundle (what the .deb/.rpm install) through a real kill -9 failover, with the
 * runtime API and with reloads, and started from the V8 startup snapshot. The sources are covered
 * by haproxy-failover.test.ts; this proves the shipped artefact does the same.
 */
describe('single-file bundle: HAProxy failover end to end (real haproxy + sentinels)', { timeout: 180000 }, () => {
  for (const [runtime, snapshot] of [[true, false], [false, false], [false, true]] as const) {
    it(`${runtime ? 'runtime API' : 'reload'} mode${snapshot ? ', from the startup snapshot' : ''}: routes to the master, then to the promoted replica`, { timeout: 90000 }, async () => {
      const cleanup = new Cleanup();
      try {
        bundlePath();
        const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: 3000 });
        const master = cluster.masters.get('testing')!;
        const replica = cluster.replicas.get('testing')![0]!;
        // The bundle, its API on a port the kernel picks, until HAProxy routes to the master
        // (started again on new ports if HAProxy could not bind the frontend's).
        const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, { runtime, run: (scope, args) => (snapshot ? runLaunched(scope, args) : runBundle(scope, 'haproxy', args)) });
        if (snapshot) assert.match(d.stderr(), /^startup snapshot: used$/m, 'started from the snapshot');
        const ext = setup.externalPorts.get('testing')!;
        assert.equal(await routedTo(ext), master.port, 'HAProxy routes to the master');
        assert.equal(reloads(setup.reloadLog), 1, 'one reload at start-up');

        await master.kill('SIGKILL');
        assert.equal(master.running, false, 'the master is really dead');
        await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'HAProxy routes to the promoted replica' });
        // With the runtime API the file is written just after the live switch: wait for it.
        await waitFor(() => new RegExp(`server R_testing_1 127\\.0\\.0\\.1:${replica.port} `).test(readFileSync(setup.outputPath, 'utf8')), { timeoutMs: 10000, what: 'the file to name the new master' });
        const live = d.logs().filter((l) => l.msg === 'HAProxy switched to the new master live; old sessions cut');
        if (runtime) {
          // The log of every apply decision in the message: a reload here must say why.
          const why = d.logs().filter((l) => /reload|live|front-door|clients reach/i.test(String(l.msg))).map((l) => `${String(l.msg)} ${String(l.reason ?? l.err ?? '')}`);
          assert.equal(reloads(setup.reloadLog), 1, `runtime mode switches without a reload; the log: ${JSON.stringify(why)}`);
          assert.ok(live.length >= 1, 'the bundle switched through the runtime API');
        } else assert.equal(live.length, 0);
        if (!runtime) assert.ok(reloads(setup.reloadLog) >= 2, 'reload mode reloaded for the failover');
        const status = (await (await fetch(`${api}/api/haproxy/status`)).json()) as { lastError: string | null };
        assert.equal(status.lastError, null);

        d.child.kill('SIGTERM');
        assert.equal(await d.exited, 0);
      } finally {
        await cleanup.run();
      }
    });
  }
});
