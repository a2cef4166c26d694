import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { makeTestCertificates, sentinelFailover, startRedis, startSentinel, testCleanup, waitFor, type Cleanup, type RedisNode, type SentinelNode } from '../harness/index.js';
import { startConfigDaemon, type ConfigDaemon } from '../support/config-daemon.js';
import { daemonExited } from '../support/daemon-process.js';

/**
 * Credentials set per sentinel and per cluster (ACL users on real sentinels and redis-server), and
 * a sentinel that requires client certificates (tls-auth-clients yes).
 */

const ALIVE = 3;
const SAFE_DOWN_AFTER_MS = 3000;
const key = (s: SentinelNode) => `${s.host}:${s.port}`;

/** A master and a replica whose default user has `defaultPw`, plus an ACL user `user` / `pw`. */
async function aclPair(cleanup: Cleanup, defaultPw: string, user: string, pw: string): Promise<{ master: RedisNode; replica: RedisNode }> {
  const extraConf = [`user ${user} on >${pw} ~* &* +@all`];
  const master = await startRedis(cleanup, { password: defaultPw, extraConf });
  const replica = await startRedis(cleanup, { password: defaultPw, extraConf, replicaOf: { host: master.host, port: master.port } });
  return { master, replica };
}

/** Can `user`/`pw` log in to `node`? (AUTH on a connection of its own.) */
async function canLogIn(node: RedisNode, user: string, pw: string): Promise<boolean> {
  const c = new Redis({ host: node.host, port: node.port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.call('AUTH', user, pw)) === 'OK';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

async function confirmedAt(rh: ConfigDaemon, name: string, port: number, what: string): Promise<void> {
  await waitFor(async () => (await rh.cluster(name))?.port === port, { timeoutMs: 20000, what, stopIf: () => daemonExited(rh.d) });
}

describe('credentials per sentinel and per cluster, client certificates (real sentinels, real daemon)', { timeout: 300000 }, () => {
  it('per-sentinel and per-cluster Username/Password win over wrong global ones; a failover is followed', { timeout: 120000 }, async (t) => {
    const cleanup = testCleanup(t);
    const alpha = await aclPair(cleanup, 'alpha-default-pw', 'alpha-user', 'alpha-pw');
    const beta = await aclPair(cleanup, 'beta-default-pw', 'beta-user', 'beta-pw');
    const monitors = [
      { name: 'alpha', host: alpha.master.host, port: alpha.master.port, quorum: 1, authPass: 'alpha-default-pw' },
      { name: 'beta', host: beta.master.host, port: beta.master.port, quorum: 1, authPass: 'beta-default-pw' },
    ];
    const sentinels = [
      await startSentinel(cleanup, { monitors, downAfterMs: SAFE_DOWN_AFTER_MS, requirePass: 's1-default-pw', extraConf: ['user sent1 on >s1-pw ~* &* +@all'] }),
      await startSentinel(cleanup, { monitors, downAfterMs: SAFE_DOWN_AFTER_MS, requirePass: 's2-default-pw', extraConf: ['user sent2 on >s2-pw ~* &* +@all'] }),
    ] as const;
    // The fault set-up is real: each user exists only where it is meant to.
    assert.equal(await canLogIn(alpha.master, 'alpha-user', 'alpha-pw'), true);
    assert.equal(await canLogIn(beta.master, 'alpha-user', 'alpha-pw'), false, 'alpha credentials do not open beta');
    assert.equal(await canLogIn(sentinels[0], 'sent1', 's1-pw'), true);
    assert.equal(await canLogIn(sentinels[1], 'sent1', 's1-pw'), false, 'sentinel 1 credentials do not open sentinel 2');

    const rh = await startConfigDaemon(cleanup, {
      Clusters: [
        { Name: 'alpha', ExternalPort: 7401, Username: 'alpha-user', Password: 'alpha-pw' },
        { Name: 'beta', ExternalPort: 7402, Username: 'beta-user', Password: 'beta-pw' },
      ],
      Sentinels: [
        { Host: sentinels[0].host, Port: sentinels[0].port, Username: 'sent1', Password: 's1-pw' },
        { Host: sentinels[1].host, Port: sentinels[1].port, Username: 'sent2', Password: 's2-pw' },
      ],
      SentinelUsername: 'nobody',
      SentinelPassword: 'wrong-sentinel-pw',
      RedisUsername: 'nobody',
      RedisPassword: 'wrong-redis-pw',
    });
    await waitFor(async () => {
      const s = await rh.sentinels();
      return sentinels.every((x) => s[key(x)]?.state === ALIVE);
    }, { timeoutMs: 15000, what: 'both sentinels alive with their own users', stopIf: () => daemonExited(rh.d) });
    await confirmedAt(rh, 'alpha', alpha.master.port, 'alpha confirmed (ROLE probed as alpha-user)');
    await confirmedAt(rh, 'beta', beta.master.port, 'beta confirmed (ROLE probed as beta-user)');

    // A failover of alpha: the new master is probed with alpha's user too.
    await waitFor(async () => {
      const c = sentinels[0].client();
      try {
        const reps = (await c.call('SENTINEL', 'REPLICAS', 'alpha')) as string[][];
        return reps.some((r) => r[r.indexOf('master-link-status') + 1] === 'ok');
      } finally {
        c.disconnect();
      }
    }, { timeoutMs: 20000, what: 'sentinel 1 to see alpha\'s replica' });
    await sentinelFailover(sentinels[0], 'alpha');
    await confirmedAt(rh, 'alpha', alpha.replica.port, 'alpha\'s failover followed');
    assert.equal((await rh.cluster('beta'))?.port, beta.master.port);
    const out = rh.d.stdout();
    for (const pw of ['alpha-pw', 'beta-pw', 's1-pw', 's2-pw']) assert.ok(!out.includes(pw), `${pw} never logged`);
  });

  it('a sentinel that requires client certificates: followed with the configured certificate; refused (TLS error shown) without', { timeout: 120000 }, async (t) => {
    const cleanup = testCleanup(t);
    const tls = makeTestCertificates();
    const master = await startRedis(cleanup, { tls });
    const replica = await startRedis(cleanup, { tls, replicaOf: { host: master.host, port: master.port } });
    const sentinel = await startSentinel(cleanup, { tls, downAfterMs: SAFE_DOWN_AFTER_MS, monitors: [{ name: 'alpha', host: master.host, port: master.port, quorum: 1 }], extraConf: ['tls-auth-clients yes'] });
    // The fault is real: a TLS client without a certificate is turned away.
    const bare = new Redis({ host: sentinel.host, port: sentinel.port, tls: { ca: readFileSync(tls.caFile), servername: 'localhost' }, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 2000 });
    bare.on('error', () => {});
    cleanup.add(() => bare.disconnect());
    await assert.rejects(bare.connect().then(() => bare.ping()), 'no certificate, no answer');

    const base = { Clusters: [{ Name: 'alpha', ExternalPort: 7401 }], Sentinels: [{ Host: sentinel.host, Port: sentinel.port }] };
    const withCert = await startConfigDaemon(cleanup, { ...base, Tls: { CaFile: tls.caFile, CertFile: tls.certFile, KeyFile: tls.keyFile, ServerName: 'localhost' } });
    const noCert = await startConfigDaemon(cleanup, { ...base, Tls: { CaFile: tls.caFile, ServerName: 'localhost' } });

    await confirmedAt(withCert, 'alpha', master.port, 'confirmed with the client certificate');
    const why = await waitFor(async () => {
      const s = (await noCert.sentinels())[key(sentinel)];
      return s && s.state !== ALIVE && s.lastError && /certificate|alert|handshake|ssl|tls/i.test(s.lastError) ? s.lastError : undefined;
    }, { timeoutMs: 15000, what: 'the TLS refusal shown in /api/sentinels lastError', stopIf: () => daemonExited(noCert.d) });
    assert.match(why, /certificate|alert|handshake|ssl|tls/i);

    await sentinelFailover(sentinel, 'alpha');
    await confirmedAt(withCert, 'alpha', replica.port, 'the failover followed with the client certificate');
    assert.equal((await noCert.cluster('alpha'))?.port, null, 'nothing confirmed without a client certificate');
    assert.notEqual((await noCert.sentinels())[key(sentinel)]?.state, ALIVE);
  });
});
