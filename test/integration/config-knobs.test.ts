import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { command, startCluster, testCleanup, waitFor, type ClusterFixture, type SentinelNode } from '../harness/index.js';
import { startConfigDaemon, type ConfigDaemon } from '../support/config-daemon.js';
import { daemonExited } from '../support/daemon-process.js';
import { accepts } from '../support/paths.js';
import { FAST_WATCHER } from '../support/watch.js';

/**
 * Issue 24 item 7: the Quorum knobs, a sentinel listed under two addresses, and the sweep of
 * discovered sentinels (Watcher.ForgetDownSentinelAfterMs). Real redis-server, sentinels, daemon.
 */

const ALIVE = 3;
const DOWN = 2;
/** Long enough that Sentinel never fails a healthy master over on its own during a test. */
const SAFE_DOWN_AFTER_MS = 3000;

const sentinelsOf = (sentinels: SentinelNode[]) => sentinels.map((s) => ({ Host: s.host, Port: s.port }));
const key = (s: SentinelNode) => `${s.host}:${s.port}`;


/** Stop a sentinel and check it really is gone (process ended, port refusing). */
async function stopSentinel(rh: ConfigDaemon, s: SentinelNode): Promise<void> {
  await s.stop();
  assert.equal(s.running, false, `${s.name} stopped`);
  assert.equal(await accepts(s.port), false, `${s.name} refuses connections`);
  await waitFor(async () => (await rh.sentinels())[key(s)]?.state === DOWN, { timeoutMs: 15000, what: `the daemon to see ${s.name} down`, stopIf: () => daemonExited(rh.d) });
}

async function confirmedAt(rh: ConfigDaemon, name: string, port: number, what: string): Promise<void> {
  await waitFor(async () => (await rh.cluster(name))?.port === port, { timeoutMs: 20000, what, stopIf: () => daemonExited(rh.d) });
}

/** Fail `name` over and wait until the daemon has the live sentinels' new view of it (followed or not). */
async function failOverSeen(cluster: ClusterFixture, rh: ConfigDaemon, name: string): Promise<{ ip: string; port: number }> {
  const from = cluster.masters.get(name)!;
  await cluster.forceFailover(name);
  const to = await cluster.waitForFailover(name, { host: from.host, port: from.port });
  const live = cluster.sentinels.filter((s) => s.running).length;
  await waitFor(
    async () => {
      const t = await rh.cluster(name);
      return (t?.views ?? []).filter((v) => v.port === to.port).length >= live;
    },
    { timeoutMs: 20000, what: `the daemon to see ${live} sentinels name ${to.ip}:${to.port} for ${name}`, stopIf: () => daemonExited(rh.d) },
  );
  return to;
}

describe('configuration knobs of the watcher (real sentinels, real daemon)', { timeout: 300000 }, () => {
  it('Watcher.Quorum 3 of 3 holds a failover while one sentinel is stopped; a cluster with Quorum "majority" follows it', { timeout: 120000 }, async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['alpha', 'beta'], replicas: 1, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const alphaMaster = cluster.masters.get('alpha')!;
    const betaMaster = cluster.masters.get('beta')!;
    const rh = await startConfigDaemon(cleanup, {
      Clusters: [
        { Name: 'alpha', ExternalPort: 7101, Quorum: 'majority' },
        { Name: 'beta', ExternalPort: 7102 },
      ],
      Sentinels: sentinelsOf(cluster.sentinels),
      Watcher: { ...FAST_WATCHER, Quorum: 3 },
    });
    await confirmedAt(rh, 'alpha', alphaMaster.port, 'alpha confirmed');
    await confirmedAt(rh, 'beta', betaMaster.port, 'beta confirmed');
    const before = await rh.topology();
    assert.deepEqual(before.map((c) => [c.name, c.quorum, c.knownSentinels]), [['alpha', 2, 3], ['beta', 3, 3]], 'the per-cluster override wins over Watcher.Quorum');

    const stopped = cluster.sentinels[2]!;
    await stopSentinel(rh, stopped);

    const alphaTo = await failOverSeen(cluster, rh, 'alpha');
    await confirmedAt(rh, 'alpha', alphaTo.port, 'alpha (majority: 2 of 3) follows with one sentinel stopped');

    const betaTo = await failOverSeen(cluster, rh, 'beta');
    const held = await rh.cluster('beta');
    assert.equal(held?.port, betaMaster.port, 'beta (3 of 3) keeps its master while only 2 sentinels name the new one');
    assert.notEqual(held?.held, null, 'beta is shown held');

    // The stopped sentinel back: it learns the new master, 3 of 3 agree, beta follows.
    await stopped.restart();
    await confirmedAt(rh, 'beta', betaTo.port, 'beta follows once the third sentinel agrees');
  });

  it('one sentinel listed under two addresses (127.0.0.1 and localhost) counts once', { timeout: 90000 }, async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 0, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const [s1, s2, s3] = cluster.sentinels as [SentinelNode, SentinelNode, SentinelNode];
    const rh = await startConfigDaemon(cleanup, {
      Clusters: [{ Name: 'alpha', ExternalPort: 7101 }],
      Sentinels: [{ Host: '127.0.0.1', Port: s1.port }, { Host: 'localhost', Port: s1.port }],
    });
    await confirmedAt(rh, 'alpha', cluster.masters.get('alpha')!.port, 'alpha confirmed');
    // Both spellings reached the same sentinel, and the other two were discovered through it.
    await waitFor(
      async () => {
        const s = await rh.sentinels();
        return [`127.0.0.1:${s1.port}`, `localhost:${s1.port}`, key(s2), key(s3)].every((k) => s[k]?.state === ALIVE);
      },
      { timeoutMs: 20000, what: 'both spellings of the first sentinel and the two discovered ones alive', stopIf: () => daemonExited(rh.d) },
    );
    const alpha = await rh.cluster('alpha');
    assert.deepEqual([alpha?.knownSentinels, alpha?.quorum], [3, 2], 'three sentinels, majority 2: the doubly listed one is not counted twice');
  });

  it('Watcher.ForgetDownSentinelAfterMs: a killed discovered sentinel no longer listed is forgotten; a configured one is not', { timeout: 90000 }, async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 0, sentinels: 3, downAfterMs: SAFE_DOWN_AFTER_MS });
    const [s1, s2, s3] = cluster.sentinels as [SentinelNode, SentinelNode, SentinelNode];
    const rh = await startConfigDaemon(cleanup, {
      Clusters: [{ Name: 'alpha', ExternalPort: 7101 }],
      Sentinels: sentinelsOf([s1]),
      Watcher: { ...FAST_WATCHER, ForgetDownSentinelAfterMs: 1500 },
    });
    await waitFor(async () => {
      const s = await rh.sentinels();
      return s[key(s3)]?.state === ALIVE && s[key(s3)]?.configured === false && s[key(s1)]?.configured === true;
    }, { timeoutMs: 20000, what: 'the third sentinel discovered', stopIf: () => daemonExited(rh.d) });

    // The configured sentinel and a discovered one die; the survivor is reset so it lists neither.
    await s3.kill('SIGKILL');
    await s1.kill('SIGKILL');
    assert.equal(await command(s2, 'SENTINEL', 'RESET', 'alpha'), 1);
    const listed = (await command(s2, 'SENTINEL', 'SENTINELS', 'alpha')) as string[][];
    assert.deepEqual(listed.map((r) => Number(r[r.indexOf('port') + 1])).filter((p) => p === s1.port || p === s3.port), [], 'the survivor lists neither dead sentinel');
    await waitFor(async () => {
      const s = await rh.sentinels();
      return s[key(s3)]?.state === DOWN && s[key(s1)]?.state === DOWN;
    }, { timeoutMs: 15000, what: 'both dead sentinels seen down', stopIf: () => daemonExited(rh.d) });

    await waitFor(async () => !(key(s3) in (await rh.sentinels())), { timeoutMs: 20000, what: 'the discovered sentinel forgotten', stopIf: () => daemonExited(rh.d) });
    // The same sweep would have taken the configured one: both were down and unlisted as long.
    const after = await rh.sentinels();
    assert.equal(after[key(s1)]?.configured, true, 'the configured sentinel is kept');
    assert.equal(after[key(s1)]?.state, DOWN);
    assert.equal(after[key(s2)]?.state, ALIVE);
    assert.ok(rh.d.logs().some((l) => l.msg === 'forgetting discovered sentinel that stayed down and is no longer listed' && l.sentinel === key(s3)));
    assert.ok(!rh.d.logs().some((l) => l.msg === 'forgetting discovered sentinel that stayed down and is no longer listed' && l.sentinel === key(s1)));
  });
});
