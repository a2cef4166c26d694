import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { routedTo, startCluster, startRedis, waitFor, testCleanup } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { editJson } from '../support/paths.js';
import { apiSentinels, waitForMorePolls } from '../support/polls.js';
import { StandInSentinel, type StandInMode } from '../support/stand-in-sentinel.js';
import { startWatcher, testConfig } from '../support/watch.js';

/**
 * A misbehaving sentinel (stand-in) configured next to real ones of a real cluster: it is marked
 * down, logged once per state change, and never crashes the daemon or changes the confirmed master.
 */

/** Modes in which the stand-in must be marked down (it answers nothing usable). */
const DOWN_MODES: StandInMode[] = ['malformed', 'badfields', 'wrongtype', 'truncated', 'oversized', 'hugearray', 'slow', 'hang', 'reset'];

const msgs = (lines: string[]) => lines.map((l) => JSON.parse(l) as { msg: string; sentinel?: string });

describe('misbehaving sentinel (stand-in) next to a real one', { timeout: 180000 }, () => {

  it('in-process watcher: malformed, truncated, oversized, wrongly typed, slow, hanging, resetting, placeholder, lying and noisy answers change nothing', async (t) => {
    const cleanup = testCleanup(t);
    // One sentinel of a real group of three is configured (the other two are discovered), next to the stand-in.
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const bad = new StandInSentinel('testing');
    bad.view = { ip: '127.0.0.1', port: master.port, epoch: 0 };
    bad.liarAddress = { ip: '127.0.0.1', port: replica.port };
    bad.mode = 'honest';
    await bad.start();
    cleanup.add(() => bad.stop());
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: '127.0.0.1', port: cluster.sentinels[0]!.port }, { host: '127.0.0.1', port: bad.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'real master confirmed' });
    const badKey = `127.0.0.1:${bad.port}`;
    const state = () => w.watcher.sentinels()[badKey]?.state;
    await waitFor(() => state() === 3, { timeoutMs: 5000, what: 'stand-in alive while honest' });

    // Placeholders (0.0.0.0:0) and a liar naming the replica, both at a huge epoch, and an honest
    // view with bursts of malformed / placeholder / lying +switch-master messages: the sentinel is
    // "alive" but the rule and the ROLE probe keep the real master.
    for (const mode of ['placeholder', 'liar', 'badpub'] as const) {
      bad.mode = mode;
      bad.kick();
      await waitFor(() => state() === 3, { timeoutMs: 10000, what: `${mode}: stand-in polled` });
      if (mode === 'liar') {
        // The fault took place: the stand-in really claims the replica at epoch 999, and is shown as outside the group.
        await waitFor(() => w.watcher.clusterStatus('testing').views.some((v) => v.sentinel === badKey && v.port === replica.port && v.configEpoch === 999), { timeoutMs: 10000, what: 'liar: its claim is seen' });
        const status = w.watcher.sentinels()[badKey]!;
        assert.deepEqual([status.outOfGroup, status.disagrees], [['testing'], ['testing']], 'the liar is marked as outside the group and disagreeing');
        assert.equal(w.watcher.clusterStatus('testing').knownSentinels, 3, 'the stand-in is not counted');
      }
      else if (mode === 'badpub') await waitFor(() => bad.published >= bad.burst && w.logLines.some((l) => l.includes('ignoring malformed sentinel message')), { timeoutMs: 10000, what: 'badpub: burst received' });
      else {
        const polled = w.watcher.sentinels()[badKey]!.lastUpdated;
        await waitFor(() => w.watcher.sentinels()[badKey]!.lastUpdated !== polled, { timeoutMs: 5000, what: 'placeholder: polled again' });
      }
      // Every sentinel polled twice more: what the stand-in says in this mode has been weighed.
      await waitForMorePolls(() => w.watcher.sentinels(), { what: mode });
      assert.equal(w.master('testing')?.port, master.port, `${mode} changed the master`);
    }

    const downsBefore = w.logLines.filter((l) => l.includes('"sentinel is down"') && l.includes(badKey)).length;
    for (const mode of DOWN_MODES) {
      bad.mode = mode;
      bad.kick();
      await waitFor(() => state() === 2, { timeoutMs: 10000, what: `${mode}: stand-in marked down` });
      // Let it fail a few reconnect rounds: still one log line for the whole down period.
      const seen = bad.connections;
      await waitFor(() => bad.connections >= seen + 4, { timeoutMs: 15000, what: `${mode}: reconnect attempts` });
      assert.equal(w.master('testing')?.port, master.port, `${mode} changed the master`);
      assert.equal(w.changes.length, 1);
      assert.match(w.watcher.sentinels()[badKey]!.lastError ?? '', /./, `${mode}: the reason is shown`);
    }
    const downLines = w.logLines.filter((l) => l.includes('"sentinel is down"') && l.includes(badKey)).length - downsBefore;
    // Consecutive down modes are one down period unless a reconnect happened to succeed in between.
    assert.ok(downLines <= DOWN_MODES.length, `"sentinel is down" logged ${downLines} times for ${DOWN_MODES.length} down modes: once per state change, not per attempt`);
    // The real sentinel never stopped being alive.
    assert.equal(w.watcher.sentinels()[`127.0.0.1:${cluster.sentinels[0]!.port}`]?.state, 3);
  });

  it('the daemon (redishappy-haproxy, runtime API) next to a misbehaving stand-in: no crash, no change, no reload, no log flood from failures, and it still follows a real failover', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const bad = new StandInSentinel('testing');
    bad.view = { ip: '127.0.0.1', port: master.port, epoch: 0 };
    bad.liarAddress = { ip: '127.0.0.1', port: replica.port };
    bad.mode = 'honest';
    await bad.start();
    cleanup.add(() => bad.stop());
    // The stand-in listed after the real sentinel; the API on a port the kernel picks; HAProxy routes
    // to the master (everything started again on new ports if HAProxy could not bind the frontend's).
    const { setup, daemon: d, api: base } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: true,
      edit: (s) => editJson(s.configPath, (cfg) => cfg.Sentinels.push({ Host: '127.0.0.1', Port: bad.port })),
    });
    const ext = setup.externalPorts.get('testing')!;
    assert.equal(await routedTo(ext), master.port, 'HAProxy routes to the master');
    const api = async <T>(path: string) => (await (await fetch(`${base}${path}`)).json()) as T;
    const badKey = `127.0.0.1:${bad.port}`;
    const state = async () => (await api<{ sentinels: Record<string, { state: number; lastError: string | null }> }>('/api/sentinels')).sentinels[badKey];
    const file = readFileSync(setup.outputPath, 'utf8');
    const alive = () => assert.equal(d.child.exitCode, null, `the daemon exited: ${d.stderr().slice(-2000)}`);

    for (const mode of ['placeholder', 'liar', ...DOWN_MODES, 'hang'] as StandInMode[]) {
      bad.mode = mode;
      bad.kick();
      const down = DOWN_MODES.includes(mode);
      await waitFor(async () => (await state())?.state === (down ? 2 : 3), { timeoutMs: 10000, what: `${mode}: stand-in ${down ? 'down' : 'alive'}` });
      // Down: the daemon keeps reconnecting (with backoff); alive: it keeps polling.
      const [conns, cmds] = [bad.connections, bad.commands];
      await waitFor(() => (down ? bad.connections >= conns + 2 : bad.commands >= cmds + 2), { timeoutMs: 15000, what: `${mode}: the daemon keeps trying` });
      alive();
      assert.equal(await routedTo(ext), master.port, `${mode} moved clients`);
    }
    assert.equal(readFileSync(setup.outputPath, 'utf8'), file, 'HAProxy file untouched');
    const downLines = d.logs().filter((l) => l.msg === 'sentinel is down' && l.sentinel === badKey).length;
    assert.ok(downLines <= DOWN_MODES.length + 1, `"sentinel is down" logged ${downLines} times`);
    const linesBeforeFailover = d.logs().length;

    // A real failover while the stand-in hangs every connection: followed, at once.
    const sub = cluster.sentinels[0]!.client();
    let announcedAt = 0;
    await sub.subscribe('+switch-master');
    sub.on('message', () => (announcedAt ||= Date.now()));
    cleanup.add(() => sub.disconnect());
    const s = cluster.sentinels[1]!.client();
    await waitFor(async () => s.call('SENTINEL', 'FAILOVER', 'testing').then(() => true, () => false), { timeoutMs: 30000, intervalMs: 100, what: 'failover accepted' });
    s.disconnect();
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 15000, intervalMs: 5, what: 'HAProxy follows the real failover' });
    const followMs = Date.now() - announcedAt;
    // Then noisy but honest about the new master: nothing moves back.
    bad.view = { ip: '127.0.0.1', port: replica.port, epoch: 1 };
    bad.liarAddress = { ip: '127.0.0.1', port: master.port };
    const messagesBefore = (await api<{ sentinels: Record<string, { messages: number }> }>('/api/sentinels')).sentinels[badKey]?.messages ?? 0;
    bad.mode = 'badpub';
    bad.kick();
    await waitFor(() => bad.published >= bad.burst, { timeoutMs: 10000, what: 'badpub burst sent' });
    // The fault reached the daemon: it counted the whole burst. Then every sentinel is polled twice
    // more, so whatever the burst could trigger has had its turn.
    await waitFor(async () => ((await api<{ sentinels: Record<string, { messages: number }> }>('/api/sentinels')).sentinels[badKey]?.messages ?? 0) >= messagesBefore + bad.burst, { timeoutMs: 10000, what: 'the daemon received the burst' });
    await waitForMorePolls(() => apiSentinels(base), { what: 'after the badpub burst' });
    alive();
    assert.equal(await routedTo(ext), replica.port, 'the bad +switch-master messages moved clients');
    const events = await api<{ events: Array<{ type: string; from: unknown }> }>('/api/events');
    assert.equal(events.events.filter((e) => e.type === 'failover' && e.from !== null).length, 1, 'exactly the real failover');
    const outputs = await api<{ outputs: Array<{ details: Record<string, number> }> }>('/api/outputs');
    const why = d.logs().filter((l) => /reload|live|front-door|clients reach/i.test(String(l.msg))).map((l) => `${String(l.msg)} ${String(l.reason ?? l.err ?? '')}`);
    assert.equal(outputs.outputs[0]!.details.reloads, 1, `one reload (start-up), the failover switched live; the log: ${JSON.stringify(why)}`);
    const noisy = d.logs().slice(linesBeforeFailover);
    console.log(
      `bad-sentinel: follow_ms_with_hanging_stand_in=${followMs} stand_in_connections=${bad.connections} sentinel_down_lines=${downLines} log_lines_after_one_badpub_burst_of_${bad.burst}=${noisy.length} (malformed=${noisy.filter((l) => l.msg === 'ignoring malformed sentinel message').length})`,
    );
  });

  it('a burst of malformed and duplicate +switch-master messages is logged as a few lines and a count', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 1 });
    const master = cluster.masters.get('testing')!;
    const bad = new StandInSentinel('testing');
    bad.view = { ip: '127.0.0.1', port: master.port, epoch: 0 };
    bad.liarAddress = { ip: '127.0.0.1', port: cluster.replicas.get('testing')![0]!.port };
    bad.mode = 'badpub';
    await bad.start();
    cleanup.add(() => bad.stop());
    const badKey = `127.0.0.1:${bad.port}`;
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: '127.0.0.1', port: cluster.sentinels[0]!.port }, { host: '127.0.0.1', port: bad.port }]));
    cleanup.add(() => w.watcher.stop());
    // The fault: the whole burst reached the watcher (200 +switch-master and 3 other messages).
    await waitFor(() => (w.watcher.sentinels()[badKey]?.messages ?? 0) >= bad.burst + 3, { timeoutMs: 10000, what: 'the burst received' });
    assert.ok(w.watcher.sentinels()[badKey]!.malformedMessages > 100, 'most of the burst was malformed');
    // Each well-formed announcement asks every live sentinel again; a query in flight absorbs the
    // ones that arrive meanwhile. A second burst, now that both sentinels are alive:
    await waitFor(() => w.watcher.sentinels()[badKey]?.state === 3, { timeoutMs: 10000, what: 'the stand-in alive' });
    const queriesBefore = bad.masterQueries;
    bad.burstAgain();
    await waitFor(() => (w.watcher.sentinels()[badKey]?.messages ?? 0) >= 2 * (bad.burst + 3), { timeoutMs: 10000, what: 'the second burst received' });
    await waitFor(() => bad.masterQueries > queriesBefore, { timeoutMs: 10000, what: 'the announcements queried the stand-in' });
    const malformedCount = w.watcher.sentinels()[badKey]!.malformedMessages;
    await w.watcher.stop(); // ends the log windows: the counts are written now
    const lines = msgs(w.logLines) as Array<{ msg: string; sentinel?: string; source?: string; suppressed?: number }>;
    const perMessage = lines.filter((l) => l.msg === 'ignoring malformed sentinel message' || l.msg === 'sentinel announced +switch-master; confirming');
    const summaries = lines.filter((l) => l.msg === 'sentinel messages not logged one by one (too many)' && l.source?.startsWith(badKey));
    const suppressed = summaries.reduce((n, l) => n + (l.suppressed ?? 0), 0);
    // Malformed and lying-but-well-formed messages of the burst, less the unknown cluster (ignored silently).
    const counted = bad.badPayloads().filter((p) => !p.startsWith('unknown-cluster')).length;
    const expected = 2 * Math.floor(bad.burst / bad.badPayloads().length) * counted + 2 * Math.min(bad.burst % bad.badPayloads().length, counted);
    const announcements = perMessage.filter((l) => l.msg === 'sentinel announced +switch-master; confirming').length + summaries.filter((l) => l.source?.includes('+switch-master testing')).reduce((n, l) => n + (l.suppressed ?? 0), 0);
    assert.ok(announcements >= 20, `the bursts held ${announcements} well-formed announcements`);
    assert.ok(bad.masterQueries - queriesBefore <= 4, `${bad.masterQueries - queriesBefore} SENTINEL MASTER queries to the announcing sentinel for one burst`);
    assert.ok(perMessage.length <= 10, `${perMessage.length} log lines for two bursts of ${bad.burst} messages from one sentinel`);
    assert.ok(summaries.length >= 1, 'the dropped lines are counted in a summary line');
    assert.equal(perMessage.length + suppressed, expected, 'every message of both bursts is either logged or counted');
    const malformedLogged = perMessage.filter((l) => l.msg === 'ignoring malformed sentinel message').length;
    const malformedSuppressed = summaries.filter((l) => l.source?.includes('malformed')).reduce((n, l) => n + (l.suppressed ?? 0), 0);
    assert.equal(malformedLogged + malformedSuppressed, malformedCount, 'the malformed ones add up to the count in /api/sentinels');
    assert.equal(w.master('testing')?.port, master.port, 'the burst moved nothing');
  });

  it('a sentinel that reports the current master at a huge epoch does not stop later failovers from being followed', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: 3000 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const bad = new StandInSentinel('testing');
    bad.mode = 'liar';
    bad.liarAddress = { ip: '127.0.0.1', port: master.port }; // the right address, a wrong epoch
    await bad.start();
    cleanup.add(() => bad.stop());
    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: '127.0.0.1', port: cluster.sentinels[0]!.port }, { host: '127.0.0.1', port: bad.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port && w.watcher.sentinels()[`127.0.0.1:${bad.port}`]?.state === 3, { timeoutMs: 10000, what: 'confirmed, stand-in alive' });
    // The fault: the stand-in's view of the real master at epoch 999 reached the watcher.
    await waitFor(() => w.watcher.clusterStatus('testing').views.some((v) => v.port === master.port && v.configEpoch === 999), { timeoutMs: 10000, what: 'bogus epoch seen' });
    assert.equal(w.topology.get('testing')?.configEpoch, 0, 'the bogus epoch did not become the confirmed epoch');
    const s = cluster.sentinels[0]!.client();
    await waitFor(async () => s.call('SENTINEL', 'FAILOVER', 'testing').then(() => true, () => false), { timeoutMs: 30000, intervalMs: 100, what: 'failover accepted' });
    s.disconnect();
    await waitFor(async () => (await cluster.sentinelMaster('testing')).port === replica.port, { timeoutMs: 20000, what: 'Sentinel failed over' });
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 8000, what: `the watcher follows the real failover (confirmed epoch is ${w.topology.get('testing')?.configEpoch})` });
    // The stand-in kept lying about the old master at epoch 999 all along.
    assert.ok(w.watcher.clusterStatus('testing').views.some((v) => v.port === master.port && v.configEpoch === 999), 'the stand-in still claims the old master');
  });

  it('one sentinel claiming a higher epoch for a node that answers ROLE master, contradicted by every other sentinel, does not move clients', async (t) => {
    const cleanup = testCleanup(t);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const stray = await startRedis(cleanup); // any standalone redis answers ROLE master
    const bad = new StandInSentinel('testing');
    bad.mode = 'honest';
    bad.view = { ip: '127.0.0.1', port: master.port, epoch: 0 };
    await bad.start();
    cleanup.add(() => bad.stop());
    const w = startWatcher(testConfig([{ name: 'testing' }], [...cluster.sentinels.map((x) => ({ host: '127.0.0.1', port: x.port })), { host: '127.0.0.1', port: bad.port }]));
    cleanup.add(() => w.watcher.stop());
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'real master confirmed' });
    bad.mode = 'liar';
    bad.liarAddress = { ip: '127.0.0.1', port: stray.port };
    bad.kick();
    // The fault: the liar's claim (a node that really answers ROLE master, at epoch 999) is seen.
    await waitFor(() => w.watcher.clusterStatus('testing').views.some((v) => v.port === stray.port && v.configEpoch === 999), { timeoutMs: 10000, what: 'liar polled' });
    assert.equal(await stray.role(), 'master');
    // Several more polls of every sentinel: the decision never moves.
    const polled = bad.commands;
    // (A loop, not waitFor: waitFor would retry a failed assertion away.)
    const deadline = Date.now() + 15000;
    while (bad.commands < polled + 10) {
      assert.equal(w.master('testing')?.port, master.port, `one sentinel of four moved the confirmed master to a standalone node (${stray.port})`);
      assert.ok(Date.now() < deadline, 'ten more polls within 15 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(w.master('testing')?.port, master.port);
    assert.equal(w.changes.length, 1);
  });
});
