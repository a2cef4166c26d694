import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { makeTestCertificates, sentinelFailover, startRedis, startSentinel, useCleanup, waitFor, type ClusterFixture } from '../harness/index.js';
import { prepareHaproxy } from '../support/haproxy-setup.js';
import { ANY_PORT, daemonExited, runBin, waitListening } from '../support/daemon-process.js';
import { editJson } from '../support/paths.js';
import { verificationOf } from '../support/verification.js';

/**
 * Front-door verification through an HAProxy that passes TLS through (mode tcp) to TLS-only
 * redis-servers whose clients must log in as an ACL user: the check speaks TLS through the door
 * and authenticates as the ROLE probe does (RedisUsername / RedisPassword).
 */

const USER = 'verifier';
const PASSWORD = 'verifier-pw';
/** The default user's password, which redishappy is never told (the replica and sentinel use it). */
const DEFAULT_PASSWORD = 'default-pw';

describe('front-door verification through TLS passthrough with an ACL user (real haproxy, TLS redis and sentinel)', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('verified before and after a failover, the door answering only TLS clients that log in', async () => {
    const tls = makeTestCertificates();
    // The ACL user may do what the probe and the check do: ROLE and INFO, nothing else.
    const acl = [`user ${USER} on >${PASSWORD} +role +info +ping`];
    const master = await startRedis(cleanup, { tls, password: DEFAULT_PASSWORD, extraConf: acl });
    const replica = await startRedis(cleanup, { tls, password: DEFAULT_PASSWORD, replicaOf: { host: master.host, port: master.port }, extraConf: acl });
    const sentinel = await startSentinel(cleanup, { tls, downAfterMs: 3000, monitors: [{ name: 'alpha', host: master.host, port: master.port, quorum: 1, authPass: DEFAULT_PASSWORD }] });
    await waitFor(async () => ((await replica.role()) === 'slave' ? true : undefined), { timeoutMs: 10000, what: 'the replica to follow' });

    const fixture = { names: ['alpha'], sentinels: [sentinel], masters: new Map([['alpha', master]]) } as unknown as ClusterFixture;
    const setup = await prepareHaproxy(cleanup, fixture, {
      runtime: true,
      apiPort: false,
      extra: { Tls: { CaFile: tls.caFile, ServerName: 'localhost' }, RedisUsername: USER, RedisPassword: PASSWORD },
    });
    // Sentinel and the nodes require the default user's password only of clients that use it;
    // redishappy's sentinel link logs in with nothing (the sentinel has no requirepass).
    editJson(setup.configPath, (c) => {
      (c.HAProxy as Record<string, unknown>).VerifyIntervalMs = 500;
    });
    const d = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', ANY_PORT]);
    const api = await waitListening(d);
    const ext = setup.externalPorts.get('alpha')!;

    const first = await waitFor(async () => {
      const v = await verificationOf(api, 'alpha', 'haproxy');
      return v?.state === 'verified' ? v : undefined;
    }, { timeoutMs: 30000, what: 'verified through the TLS door', stopIf: () => daemonExited(d) });
    assert.equal(first.master, `127.0.0.1:${master.port}`);

    // The set-up is what it claims: the door passes TLS through (a plain client gets nothing) and
    // a TLS client without the ACL user is refused.
    const plain = new Redis({ host: '127.0.0.1', port: ext, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 1000 });
    plain.on('error', () => {});
    cleanup.add(() => plain.disconnect());
    await assert.rejects(plain.connect().then(() => plain.call('ROLE')), 'a plain client gets no answer through the door');
    const anonymous = new Redis({ host: '127.0.0.1', port: ext, tls: { ca: readFileSync(tls.caFile), servername: 'localhost' }, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 2000 });
    anonymous.on('error', () => {});
    cleanup.add(() => anonymous.disconnect());
    await anonymous.connect();
    await assert.rejects(anonymous.call('ROLE'), /NOAUTH|Authentication/i, 'TLS without logging in is refused');

    await sentinelFailover(sentinel, 'alpha');
    const after = await waitFor(async () => {
      const v = await verificationOf(api, 'alpha', 'haproxy');
      return v?.state === 'verified' && v.master === `127.0.0.1:${replica.port}` ? v : undefined;
    }, { timeoutMs: 30000, what: 'the new master verified through the TLS door', stopIf: () => daemonExited(d) });
    assert.equal(after.door, `127.0.0.1:${ext}`);
    assert.ok(!d.stdout().includes(PASSWORD), 'the password is never logged');
  });
});
