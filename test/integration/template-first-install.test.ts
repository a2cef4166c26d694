import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { bindFailure, freePort, retryOnPortClash, routedTo, startCluster, startNginx, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, daemonExited, runBin, waitListening } from '../support/daemon-process.js';
import { nginxFiles } from '../support/nginx-setup.js';
import { FAST_WATCHER } from '../support/watch.js';

/**
 * A first install: the daemon starts before the proxy, so OutputPath does not exist yet and the
 * first reload fails (nothing to reload). The new file passed validation, so it must stay (the
 * docs say: start nginx once with `-c <that file>`), and the reload stays owed until it works.
 */

interface OutputEntry {
  name: string;
  lastError: string | null;
  details?: Record<string, unknown>;
}

async function outputStatus(api: string, name: string): Promise<OutputEntry | undefined> {
  const body = (await (await fetch(`${api}/api/outputs`)).json()) as { outputs?: OutputEntry[] } | OutputEntry[];
  const list = Array.isArray(body) ? body : (body.outputs ?? []);
  return list.find((o) => o.name === name);
}

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

describe('template output, first install (real nginx started after the daemon)', { timeout: 180000 }, () => {
  const cleanup = useCleanup();

  it('keeps the validated file when there is none to put back, retries the reload, and nginx started with that file routes to the master', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const master = cluster.masters.get('testing')!;

    await retryOnPortClash(cleanup, 'nginx started after redishappy', async (scope) => {
      const ng = nginxFiles();
      const marker = join(dirname(ng.outputPath), `.${basename(ng.outputPath)}.redishappy-reload-pending`);
      const ext = await freePort();
      const configPath = join(ng.dir, 'config.json');
      writeFileSync(configPath, JSON.stringify({
        Clusters: [{ Name: 'testing', ExternalPort: ext }],
        Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
        Watcher: FAST_WATCHER,
        Syslog: { Enabled: false },
        Templates: [ng.entry],
      }));
      assert.equal(existsSync(ng.outputPath), false, 'no output file before the daemon starts');
      const daemon = runBin(scope, 'redishappy', ['-config', configPath, '-bind', ANY_PORT]);
      const api = await waitListening(daemon);

      // The fault: nginx is not running, so the reload command fails (and is retried).
      const failing = await waitFor(async () => {
        const s = await outputStatus(api, 'nginx');
        return s && Number(s.details?.reloadFailures) >= 2 ? s : undefined;
      }, { timeoutMs: 30000, what: 'two failed reloads of the first file', stopIf: () => daemonExited(daemon) });
      // (nginx -t leaves an empty pid file: hence "invalid PID number" from nginx -s reload.)
      const pidFile = join(ng.dir, 'nginx.pid');
      assert.equal(existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '', '', 'nginx really is not running');
      await assert.rejects(routedTo(ext), 'nothing listens on the external port yet');
      assert.ok(lines(ng.reloadLog) >= 2, 'the reload command ran');
      // The file passed nginx -t and stays, with the master in it; the reload stays owed across a restart.
      assert.ok(existsSync(ng.outputPath), 'the first file stays in place after the failed reload');
      assert.match(readFileSync(ng.outputPath, 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${master.port};`));
      assert.ok(existsSync(marker), 'the pending-reload marker is kept');
      const firstFailure = daemon.logs().find((l) => String(l.msg).includes('reload command failed'));
      assert.match(String(firstFailure?.msg), /the new file stays \(there was no previous file\); reload retried/);
      // The retries find that same file in place: it stays.
      assert.match(String(failing.lastError), /invalid PID number.*the file already held this content and stays; reload retried/);
      assert.equal(failing.details?.reloadOwed, true);
      assert.equal(failing.details?.reloads, 0);

      // What the docs tell people to do: start nginx once with -c <the output file>.
      const nginx = await startNginx(scope, { configPath: ng.outputPath, dir: ng.dir });
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === master.port, {
        timeoutMs: 20000,
        what: 'nginx started with the written file to route to the master',
        stopIf: () => bindFailure(nginx, [ext]),
      });

      // The owed reload is retried (backoff) and now succeeds.
      const done = await waitFor(async () => {
        const s = await outputStatus(api, 'nginx');
        // The marker goes right after the status says reloaded, and the runner records the apply's
        // outcome (clearing lastError) once the apply returns: wait for all three.
        return s && s.details?.reloadOwed === false && !existsSync(marker) && s.lastError === null ? s : undefined;
      }, { timeoutMs: 60000, what: 'the owed reload to succeed', stopIf: () => daemonExited(daemon) ?? bindFailure(nginx, [ext]) });
      assert.equal(done.lastError, null);
      assert.equal(done.details?.reloads, 1);
      assert.ok(nginx.running, 'nginx still runs after the reload');
      assert.equal(await routedTo(ext), master.port);
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
    });
  });
});
