import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptingWorkers, routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { startNginxDaemon } from '../support/nginx-setup.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { logged } from '../support/paths.js';
import { metric, topology, verificationOf } from '../support/verification.js';

/**
 * Front-door verification of template outputs (src/verify) against a real nginx (the shipped
 * example template) and of the Verify key itself, with real sentinels and the real daemon.
 */
describe('front-door verification through nginx (real nginx + sentinels)', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('verified only after nginx\'s old workers stopped accepting, and then new clients reach the new master', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const { ng, ext, api } = await startNginxDaemon(cleanup, cluster);
    await waitFor(async () => (await verificationOf(api, 'testing', 'nginx'))?.state === 'verified', { timeoutMs: 15000, what: 'the first master verified through nginx' });

    // Watch nginx's workers from before the reload: the last moment one of them still accepted.
    const old = acceptingWorkers(ng.nginx);
    assert.ok(old.length > 0, 'nginx has a worker taking connections');
    let lastOldAccepting = Date.now();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (acceptingWorkers(ng.nginx).some((pid) => old.includes(pid))) lastOldAccepting = Date.now();
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    cleanup.add(async () => {
      watching = false;
      await watcher;
    });

    // SENTINEL FAILOVER keeps the old master alive: an old worker would still reach it.
    await cluster.forceFailover('testing');
    const v = await waitFor(async () => {
      const x = await verificationOf(api, 'testing', 'nginx');
      return x?.state === 'verified' && x.master === `127.0.0.1:${replica.port}` ? x : undefined;
    }, { timeoutMs: 30000, intervalMs: 5, what: 'the new master verified through nginx' });
    const seenAt = Date.now();
    // New clients reach the new master now, every one of them.
    for (let i = 0; i < 5; i++) assert.equal(await routedTo(ext), replica.port, `client ${i} reaches the new master`);
    watching = false;
    await watcher;
    const verifiedAt = Date.parse(v.verifiedAt!);
    assert.ok(lastOldAccepting <= seenAt, 'the old workers stopped accepting');
    assert.ok(verifiedAt > lastOldAccepting, `verified at ${v.verifiedAt}, an old worker still accepted at ${new Date(lastOldAccepting).toISOString()}`);
    assert.equal(await routedTo(ext), replica.port);
    assert.notEqual(replica.port, master.port);
    const seconds = await metric(api, 'redishappy_failover_verified_seconds{cluster="testing",output="nginx"}');
    assert.ok(seconds !== undefined && seconds > 0, `verified seconds ${seconds}`);
  });
});

describe('the Verify key (real haproxy + nginx + sentinels)', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('Verify: false checks nothing and says so once; a Templates file with no ReloadCommand is not checked either', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: false,
      edit: (s) => {
        const file = join(s.dir, 'masters.tmpl');
        writeFileSync(file, '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}');
        const text = JSON.parse(readText(s.configPath)) as Record<string, Record<string, unknown>>;
        text.HAProxy!.Verify = false;
        text.HAProxy!.VerifyIntervalMs = 200;
        (text as Record<string, unknown>).Templates = [{ Name: 'file', TemplatePath: file, OutputPath: join(s.dir, 'masters.txt') }];
        writeFileSync(s.configPath, JSON.stringify(text));
      },
    });
    // HAProxy does route (the door works): only verification is off.
    assert.equal(await routedTo(setup.externalPorts.get('testing')!), cluster.masters.get('testing')!.port);
    const off = await waitFor(() => (logged(d, 'front-door verification is off for this output').length >= 2 ? logged(d, 'front-door verification is off for this output') : undefined), { timeoutMs: 5000, what: 'the off lines' });
    // Several periodic intervals later: still one line per output, nothing checked, no series.
    await new Promise((r) => setTimeout(r, 1000));
    const lines = logged(d, 'front-door verification is off for this output');
    assert.deepEqual(lines.map((l) => l.output).sort(), ['file', 'haproxy'], 'once per output');
    assert.equal(lines.length, off.length);
    assert.match(String(lines.find((l) => l.output === 'haproxy')?.reason), /HAProxy\.Verify is false/);
    assert.match(String(lines.find((l) => l.output === 'file')?.reason), /no ReloadCommand/);
    assert.deepEqual((await topology(api)).find((c) => c.name === 'testing')?.verification, {});
    assert.equal(await metric(api, 'redishappy_route_verified{cluster="testing",output="haproxy",door="write"}'), undefined);
  });

  it('a door that answers nothing (Verify.Port where nothing listens) is unreachable, not verified', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const { setup, api } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: false,
      edit: (s) => {
        const text = JSON.parse(readText(s.configPath)) as Record<string, Record<string, unknown>>;
        // Port 1 on loopback: nothing listens there (the fault: a door bound elsewhere).
        text.HAProxy!.Verify = { Host: '127.0.0.1', Port: 1 };
        writeFileSync(s.configPath, JSON.stringify(text));
      },
    });
    assert.equal(await routedTo(setup.externalPorts.get('testing')!), cluster.masters.get('testing')!.port, 'HAProxy itself routes');
    const v = await waitFor(async () => {
      const x = await verificationOf(api, 'testing', 'haproxy');
      return x?.state === 'unreachable' ? x : undefined;
    }, { timeoutMs: 15000, what: 'the door found unreachable' });
    assert.equal(v.door, '127.0.0.1:1');
    assert.match(v.error ?? '', /front door/);
    assert.equal(await metric(api, 'redishappy_route_verified{cluster="testing",output="haproxy",door="write"}'), 0);
  });
});

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
