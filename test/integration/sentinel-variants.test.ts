import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestCertificates, sentinelFailover, startRedis, startSentinel, useCleanup, waitFor, type RedisNode, type SentinelNode } from '../harness/index.js';
import { startWatcher, testConfig } from '../support/watch.js';

/** Sentinel set-ups beyond plain IPv4: IPv6, host names, AUTH, TLS. All real processes. */
describe('sentinel variants (real redis-server and sentinels)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  async function failoverTo(w: ReturnType<typeof startWatcher>, sentinel: SentinelNode, replica: RedisNode): Promise<void> {
    const sentinelClient = () => sentinel.client();
    await waitFor(async () => {
      const c = sentinelClient();
      try {
        const reps = (await c.call('SENTINEL', 'REPLICAS', 'testing')) as string[][];
        return reps.some((r) => r[r.indexOf('master-link-status') + 1] === 'ok');
      } finally {
        c.disconnect();
      }
    }, { timeoutMs: 20000, what: 'sentinel to see a healthy replica' });
    await sentinelFailover(sentinel, 'testing');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 20000, what: 'failover followed' });
  }

  it('IPv6: sentinels and instances on ::1', async () => {
    const master = await startRedis(cleanup, { host: '::1' });
    const replica = await startRedis(cleanup, { host: '::1', replicaOf: { host: '::1', port: master.port } });
    const sentinel = await startSentinel(cleanup, { host: '::1', monitors: [{ name: 'testing', host: '::1', port: master.port, quorum: 1 }] });
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: '::1', port: sentinel.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'IPv6 master confirmed' });
    assert.equal(w.master('testing')?.ip, '::1');
    assert.ok(w.watcher.sentinels()[`[::1]:${sentinel.port}`], 'sentinel keyed [::1]:port like Go JoinHostPort');
    await failoverTo(w, sentinel, replica);
  });

  it('host names: sentinels with announce-hostnames report "localhost"', async () => {
    const master = await startRedis(cleanup, { extraConf: ['replica-announce-ip localhost'] });
    const replica = await startRedis(cleanup, { replicaOf: { host: 'localhost', port: master.port }, extraConf: ['replica-announce-ip localhost'] });
    const sentinel = await startSentinel(cleanup, { monitors: [{ name: 'testing', host: 'localhost', port: master.port, quorum: 1 }], extraConf: ['sentinel announce-hostnames yes', 'sentinel announce-ip localhost'] });
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: 'localhost', port: sentinel.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'master confirmed by host name' });
    assert.equal(w.master('testing')?.ip, 'localhost');
    await failoverTo(w, sentinel, replica);
  });

  it('AUTH: sentinel password and Redis password; a wrong Redis password confirms nothing', async () => {
    const master = await startRedis(cleanup, { password: 'redis-pw' });
    await startRedis(cleanup, { password: 'redis-pw', replicaOf: { host: master.host, port: master.port } });
    const sentinel = await startSentinel(cleanup, { monitors: [{ name: 'testing', host: master.host, port: master.port, quorum: 1, authPass: 'redis-pw' }], requirePass: 'sentinel-pw' });
    const good = startWatcher(testConfig([{ name: 'testing' }], [{ host: sentinel.host, port: sentinel.port }], { SentinelPassword: 'sentinel-pw', RedisPassword: 'redis-pw' }));
    cleanup.add(() => good.watcher.stop());
    await waitFor(() => good.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'master confirmed with AUTH' });

    const wrong = startWatcher(testConfig([{ name: 'testing' }], [{ host: sentinel.host, port: sentinel.port }], { SentinelPassword: 'sentinel-pw', RedisPassword: 'nope' }));
    cleanup.add(() => wrong.watcher.stop());
    await wrong.watcher.ready();
    await waitFor(() => wrong.logLines.some((l) => l.includes('answers ROLE')), { timeoutMs: 10000, what: 'hold logged' });
    assert.equal(wrong.master('testing'), null, 'no master presented when the ROLE probe cannot authenticate');
    assert.ok(!wrong.logLines.join('\n').includes('redis-pw') && !wrong.logLines.join('\n').includes('sentinel-pw'), 'passwords never logged');

    const noAuth = startWatcher(testConfig([{ name: 'testing' }], [{ host: sentinel.host, port: sentinel.port }]));
    cleanup.add(() => noAuth.watcher.stop());
    await noAuth.watcher.ready();
    assert.equal(noAuth.watcher.sentinels()[`${sentinel.host}:${sentinel.port}`]?.state, 2, 'sentinel refusing us is marked down');
  });

  it('TLS: sentinels and instances reached over TLS', async () => {
    const tls = makeTestCertificates();
    const master = await startRedis(cleanup, { tls });
    await startRedis(cleanup, { tls, replicaOf: { host: master.host, port: master.port } });
    const sentinel = await startSentinel(cleanup, { tls, monitors: [{ name: 'testing', host: master.host, port: master.port, quorum: 1 }] });
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: sentinel.host, port: sentinel.port }], { Tls: { CaFile: tls.caFile, ServerName: 'localhost' } }));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'master confirmed over TLS' });
  });
});
