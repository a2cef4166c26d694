import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { makeTestCertificates, sentinelFailover, startCluster, startRedis, startSentinel, testCleanup, waitFor, type Cleanup, type SentinelNode } from '../harness/index.js';
import { startConfigDaemon, type ConfigDaemon } from '../support/config-daemon.js';
import { daemonExited } from '../support/daemon-process.js';
import { logged } from '../support/paths.js';
import { FAST_WATCHER } from '../support/watch.js';

/**
 * SIGHUP changing how the daemon reaches the sentinels (credentials, TLS, Watcher settings): it
 * reconnects with the new settings and a failover after the reload is still followed.
 */

const ALIVE = 3;
const SAFE_DOWN_AFTER_MS = 3000;
const key = (s: SentinelNode) => `${s.host}:${s.port}`;

/** A client to `s` that authenticates with `password` (the harness' clients know only the password the node started with). */
function authed(cleanup: Cleanup, s: SentinelNode, password: string): SentinelNode {
  const client = () => {
    const c = new Redis({ host: s.host, port: s.port, password, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
    c.on('error', () => {});
    cleanup.add(() => c.disconnect());
    return c;
  };
  return { name: s.name, client } as unknown as SentinelNode;
}

async function reloaded(rh: ConfigDaemon, count: number): Promise<void> {
  await waitFor(() => logged(rh.d, 'configuration reloaded').length === count, { timeoutMs: 15000, what: `reload ${count} accepted`, stopIf: () => daemonExited(rh.d) });
}

async function followed(rh: ConfigDaemon, port: number, what: string): Promise<void> {
  await waitFor(async () => (await rh.cluster('alpha'))?.port === port, { timeoutMs: 20000, what, stopIf: () => daemonExited(rh.d) });
}

describe('SIGHUP changing the connection settings (real sentinels, real daemon)', { timeout: 300000 }, () => {
  it('sentinel password set on the sentinel, then SIGHUP with it: reconnected, and a failover is followed', { timeout: 90000 }, async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 1, sentinels: 1, downAfterMs: SAFE_DOWN_AFTER_MS });
    const master = cluster.masters.get('alpha')!;
    const replica = cluster.replicas.get('alpha')![0]!;
    const sentinel = cluster.sentinels[0]!;
    const base = { Clusters: [{ Name: 'alpha', ExternalPort: 7301 }], Sentinels: [{ Host: sentinel.host, Port: sentinel.port }] };
    const rh = await startConfigDaemon(cleanup, base);
    await followed(rh, master.port, 'alpha confirmed');

    // The sentinel now wants a password, and drops the connections it has (the daemon's included).
    const admin = sentinel.client();
    assert.equal(await admin.call('ACL', 'SETUSER', 'default', 'resetpass', '>new-sentinel-pw'), 'OK');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
    const withPw = authed(cleanup, sentinel, 'new-sentinel-pw');
    assert.equal(await withPw.client().ping(), 'PONG');
    await assert.rejects(sentinel.client().ping(), /NOAUTH/, 'the password is really required');
    await waitFor(async () => {
      const s = (await rh.sentinels())[key(sentinel)];
      return s && s.state !== ALIVE && /NOAUTH|WRONGPASS/.test(s.lastError ?? '');
    }, { timeoutMs: 15000, what: 'the daemon refused by the sentinel', stopIf: () => daemonExited(rh.d) });

    rh.write({ ...base, SentinelPassword: 'new-sentinel-pw' });
    rh.d.child.kill('SIGHUP');
    await reloaded(rh, 1);
    await waitFor(async () => (await rh.sentinels())[key(sentinel)]?.state === ALIVE, { timeoutMs: 15000, what: 'the sentinel alive with the new password', stopIf: () => daemonExited(rh.d) });

    await sentinelFailover(withPw, 'alpha');
    await followed(rh, replica.port, 'the failover after the reload followed');
    assert.ok(!rh.d.stdout().includes('new-sentinel-pw'), 'password never logged');
  });

  it('SIGHUP fixing the TLS CA, then changing Watcher settings: reconnected each time, and a failover is followed', { timeout: 90000 }, async (t) => {
    const cleanup = testCleanup(t);
    const tls = makeTestCertificates();
    const other = makeTestCertificates();
    const master = await startRedis(cleanup, { tls });
    const replica = await startRedis(cleanup, { tls, replicaOf: { host: master.host, port: master.port } });
    const sentinel = await startSentinel(cleanup, { tls, downAfterMs: SAFE_DOWN_AFTER_MS, monitors: [{ name: 'alpha', host: master.host, port: master.port, quorum: 1 }] });
    const base = { Clusters: [{ Name: 'alpha', ExternalPort: 7301 }], Sentinels: [{ Host: sentinel.host, Port: sentinel.port }] };
    const rh = await startConfigDaemon(cleanup, { ...base, Tls: { CaFile: other.caFile, ServerName: 'localhost' } });
    // The fault: a CA that did not sign the sentinel's certificate.
    const refused = await waitFor(async () => {
      const e = (await rh.sentinels())[key(sentinel)]?.lastError;
      return e && /self[- ]signed|unable to verify|certificate/i.test(e) ? e : undefined;
    }, { timeoutMs: 15000, what: 'the certificate refused', stopIf: () => daemonExited(rh.d) });
    assert.ok(refused);
    assert.equal((await rh.cluster('alpha'))?.port, null, 'nothing confirmed over an untrusted connection');

    rh.write({ ...base, Tls: { CaFile: tls.caFile, ServerName: 'localhost' } });
    rh.d.child.kill('SIGHUP');
    await reloaded(rh, 1);
    await followed(rh, master.port, 'confirmed over TLS after the CA fix');

    // Watcher settings only: the sentinel is connected to again (a new "watching" line).
    const watching = () => logged(rh.d, 'watching configured sentinel').length;
    const before = watching();
    rh.write({ ...base, Tls: { CaFile: tls.caFile, ServerName: 'localhost' }, Watcher: { ...FAST_WATCHER, PollIntervalMs: 300, CommandTimeoutMs: 800 } });
    rh.d.child.kill('SIGHUP');
    await reloaded(rh, 2);
    await waitFor(() => watching() > before, { timeoutMs: 15000, what: 'the sentinel reconnected with the new Watcher settings', stopIf: () => daemonExited(rh.d) });
    await waitFor(async () => (await rh.sentinels())[key(sentinel)]?.state === ALIVE, { timeoutMs: 15000, what: 'the sentinel alive again', stopIf: () => daemonExited(rh.d) });
    const configured = (await (await fetch(`${rh.api}/api/configuration`)).json()) as { watcher?: { pollIntervalMs?: number }; Watcher?: { PollIntervalMs?: number } };
    assert.equal(configured.watcher?.pollIntervalMs ?? configured.Watcher?.PollIntervalMs, 300, 'the new Watcher settings are in force');

    await sentinelFailover(sentinel, 'alpha');
    await followed(rh, replica.port, 'the failover after the reloads followed');
  });
});
