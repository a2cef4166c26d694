import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestCertificates, startRedis, startSentinel, waitFor, withCleanup } from '../harness/index.js';
import { startWatcher, testConfig } from '../support/watch.js';

const ALIVE = 3;

/** ACL users and TLS client certificates against real redis-server / redis-sentinel. */
describe('authentication paths (real redis and sentinels)', { timeout: 200000 }, () => {
  it('ACL Username: a sentinel ACL user and a Redis ACL user; the password alone (default user) is refused', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const master = await startRedis(cleanup, { password: 'default-pw', extraConf: ['user watcher on >watch-pw ~* &* +@all'] });
      const sentinel = await startSentinel(cleanup, {
        requirePass: 'sentinel-default-pw',
        monitors: [{ name: 'testing', host: master.host, port: master.port, quorum: 1, authPass: 'default-pw' }],
        extraConf: ['user sentuser on >sent-pw ~* &* +@all'],
      });
      const sentinels = [{ host: sentinel.host, port: sentinel.port }];
      const key = `${sentinel.host}:${sentinel.port}`;

      // The ACL users exist and work as the server sees them.
      const probe = master.client();
      assert.equal(await probe.call('AUTH', 'watcher', 'watch-pw'), 'OK');

      const good = startWatcher(testConfig([{ name: 'testing' }], sentinels, { SentinelUsername: 'sentuser', SentinelPassword: 'sent-pw', RedisUsername: 'watcher', RedisPassword: 'watch-pw' }));
      cleanup.add(() => good.watcher.stop());
      await waitFor(() => good.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'confirmed with ACL users' });

      // Redis password without its user name: AUTH as "default" fails, so ROLE is never asked and nothing is confirmed.
      const noRedisUser = startWatcher(testConfig([{ name: 'testing' }], sentinels, { SentinelUsername: 'sentuser', SentinelPassword: 'sent-pw', RedisPassword: 'watch-pw' }));
      cleanup.add(() => noRedisUser.watcher.stop());
      await waitFor(() => noRedisUser.watcher.sentinels()[key]?.state === ALIVE, { timeoutMs: 10000, what: 'sentinel alive' });
      await waitFor(() => noRedisUser.logLines.some((l) => l.includes(`names 127.0.0.1:${master.port}`) && l.includes('answers ROLE unreachable')), { timeoutMs: 15000, what: 'the ROLE probe refused (AUTH as default fails)' });
      assert.equal(noRedisUser.master('testing'), null, 'nothing confirmed without the Redis user name');

      // Sentinel password without its user name: the sentinel refuses the daemon.
      const noSentinelUser = startWatcher(testConfig([{ name: 'testing' }], sentinels, { SentinelPassword: 'sent-pw', RedisUsername: 'watcher', RedisPassword: 'watch-pw' }));
      cleanup.add(() => noSentinelUser.watcher.stop());
      const refused = await waitFor(() => noSentinelUser.watcher.sentinels()[key]?.lastError, { timeoutMs: 15000, what: 'sentinel AUTH failure recorded' });
      // The server's reason, not only "connection closed".
      const refusedWhy = await waitFor(() => { const e = noSentinelUser.watcher.sentinels()[key]?.lastError; return e?.includes('WRONGPASS') ? e : undefined; }, { timeoutMs: 15000, what: `the WRONGPASS reason shown (last: ${String(refused)})` });
      assert.match(refusedWhy, /WRONGPASS invalid username-password pair/);
      assert.notEqual(noSentinelUser.watcher.sentinels()[key]?.state, ALIVE);
      assert.equal(noSentinelUser.master('testing'), null);
      assert.ok(![...good.logLines, ...noRedisUser.logLines, ...noSentinelUser.logLines].some((l) => l.includes('watch-pw') || l.includes('sent-pw')), 'passwords never logged');
    }),
  );

  it('TLS: client certificate and CA configured; a sentinel certificate from another CA is refused', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const tls = makeTestCertificates();
      const master = await startRedis(cleanup, { tls });
      const sentinel = await startSentinel(cleanup, { tls, monitors: [{ name: 'testing', host: master.host, port: master.port, quorum: 1 }] });
      const sentinels = [{ host: sentinel.host, port: sentinel.port }];
      const key = `${sentinel.host}:${sentinel.port}`;

      const other = makeTestCertificates();
      const uncaught: string[] = [];
      const onUncaught = (e: Error) => uncaught.push(e.message);
      process.on('uncaughtException', onUncaught);
      cleanup.add(() => process.off('uncaughtException', onUncaught));
      const wrongCa = startWatcher(testConfig([{ name: 'testing' }], sentinels, { Tls: { CaFile: other.caFile, CertFile: tls.certFile, KeyFile: tls.keyFile, ServerName: 'localhost' } }));
      cleanup.add(() => wrongCa.watcher.stop());
      const refused = await waitFor(() => wrongCa.watcher.sentinels()[key]?.lastError, { timeoutMs: 15000, what: 'the TLS failure recorded' });
      // The certificate error itself, not only "connection closed".
      const refusedWhy = await waitFor(() => { const e = wrongCa.watcher.sentinels()[key]?.lastError; return e && /self[- ]signed|unable to verify|certificate/i.test(e) ? e : undefined; }, { timeoutMs: 15000, what: `the certificate error shown (last: ${String(refused)})` });
      assert.match(refusedWhy, /self[- ]signed|unable to verify|certificate/i);
      assert.notEqual(wrongCa.watcher.sentinels()[key]?.state, ALIVE, 'a sentinel with a certificate from another CA is not trusted');
      // Several refused reconnects, none of them an uncaught TLS error (that used to kill the daemon).
      const attempts = new Set<string>();
      await waitFor(() => (attempts.add(String(wrongCa.watcher.sentinels()[key]?.lastUpdated)), attempts.size >= 4), { timeoutMs: 15000, intervalMs: 20, what: 'several refused reconnects' });
      assert.deepEqual(uncaught, []);

      const withCert = startWatcher(testConfig([{ name: 'testing' }], sentinels, { Tls: { CaFile: tls.caFile, CertFile: tls.certFile, KeyFile: tls.keyFile, ServerName: 'localhost' } }));
      cleanup.add(() => withCert.watcher.stop());
      await waitFor(() => withCert.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'confirmed over TLS with a client certificate' });
      assert.equal(wrongCa.master('testing'), null);
    }),
  );

  // Once the Redis requires client certificates (tls-auth-clients yes): the probe without one is
  // refused and holds the master, and no TLS alert escapes as an uncaught exception.
  it('TLS: a Redis that requires client certificates: ours confirms, none holds, nothing uncaught', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const tls = makeTestCertificates();
      const master = await startRedis(cleanup, { tls });
      const sentinel = await startSentinel(cleanup, { tls, monitors: [{ name: 'testing', host: master.host, port: master.port, quorum: 1 }] });
      assert.equal(await master.client().call('CONFIG', 'SET', 'tls-auth-clients', 'yes'), 'OK');
      const sentinels = [{ host: sentinel.host, port: sentinel.port }];
      const withCert = startWatcher(testConfig([{ name: 'testing' }], sentinels, { Tls: { CaFile: tls.caFile, CertFile: tls.certFile, KeyFile: tls.keyFile, ServerName: 'localhost' } }));
      cleanup.add(() => withCert.watcher.stop());
      await waitFor(() => withCert.master('testing')?.port === master.port, { timeoutMs: 15000, what: 'confirmed with a client certificate' });
      const noCert = startWatcher(testConfig([{ name: 'testing' }], sentinels, { Tls: { CaFile: tls.caFile, ServerName: 'localhost' } }));
      cleanup.add(() => noCert.watcher.stop());
      await waitFor(() => noCert.logLines.some((l) => l.includes(`names 127.0.0.1:${master.port}`) && l.includes('answers ROLE unreachable')), { timeoutMs: 15000, what: 'probe without a client certificate refused' });
      assert.equal(noCert.master('testing'), null, 'nothing confirmed without a client certificate');
    }),
  );
});
