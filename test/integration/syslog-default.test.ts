import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { DEV_LOG, SyslogStream } from '../../src/log/syslog.js';
import { startCluster, testCleanup, waitFor, type Cleanup } from '../harness/index.js';
import { startConfigDaemon, type ConfigDaemon } from '../support/config-daemon.js';
import { daemonExited } from '../support/daemon-process.js';
import { logged, unixSyslogReceiver } from '../support/paths.js';

/**
 * The default syslog destination (/dev/log) and what happens when the local socket is missing or
 * goes away. No test claims the real /dev/log: the stream is pointed at a socket in a temp dir.
 */

/** "daemon" (3) * 8 + severity. */
const DAEMON_WARNING = 28;
const DAEMON_ERR = 27;

const syslogNotes = (rh: ConfigDaemon) => rh.d.stderr().split('\n').filter((l) => l.includes('syslog'));

/** A daemon on a one-sentinel cluster with syslog (warnings and up) sent to `address`. */
async function daemonWithSyslog(cleanup: Cleanup, address: string): Promise<ConfigDaemon> {
  const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 0, sentinels: 1 });
  const s = cluster.sentinels[0]!;
  return startConfigDaemon(cleanup, { Clusters: [{ Name: 'alpha', ExternalPort: 7501 }], Sentinels: [{ Host: s.host, Port: s.port }], Syslog: { Enabled: true, Address: address, Level: 'warn' } });
}

/** SIGHUP with a broken file: the daemon logs one error ("configuration reload rejected") and keeps running. */
async function rejectedReload(rh: ConfigDaemon): Promise<void> {
  const before = logged(rh.d, 'configuration reload rejected').length;
  writeFileSync(rh.configPath, '{ broken');
  rh.d.child.kill('SIGHUP');
  await waitFor(() => logged(rh.d, 'configuration reload rejected').length > before, { timeoutMs: 10000, what: 'the reload rejected', stopIf: () => daemonExited(rh.d) });
}

async function stillServing(rh: ConfigDaemon): Promise<void> {
  assert.equal(rh.d.child.exitCode, null, 'the daemon is running');
  assert.equal(await (await fetch(`${rh.api}/api/ping`)).text(), 'Pong');
  rh.d.child.kill('SIGTERM');
  assert.equal(await rh.d.exited, 0);
}

describe('syslog: the default local socket and its failures', { timeout: 200000 }, () => {
  it('with no Address, messages go to the local socket /dev/log stands for (here a temp socket)', { timeout: 30000 }, async (t) => {
    const cleanup = testCleanup(t);
    const config = parseConfigText(JSON.stringify({ Clusters: [{ Name: 'alpha', ExternalPort: 7501 }], Sentinels: [{ Host: '127.0.0.1', Port: 26379 }], Syslog: { Enabled: true } }), 'test', {}, 'auto').config;
    assert.equal(config.Syslog.Address, DEV_LOG);
    assert.equal(DEV_LOG, '/dev/log', 'the real default');
    const sock = join(mkdtempSync(join(tmpdir(), 'rh-syslog-default-')), 'log.sock');
    const receiver = await unixSyslogReceiver(cleanup, sock);
    const problems: string[] = [];
    const stream = new SyslogStream(config.Syslog, (m) => problems.push(m), { devLog: sock });
    cleanup.add(() => stream.close());
    const logger = pino({ level: 'info' }, stream);
    logger.warn({ cluster: 'alpha' }, 'sentinel is down');
    logger.error('apply failed');
    await waitFor(() => receiver.messages().length >= 2, { timeoutMs: 10000, what: 'both messages at the socket' });
    const [warning, error] = receiver.messages();
    assert.match(warning!, new RegExp(`^<${DAEMON_WARNING}>.*redishappy(\\[\\d+\\])?: sentinel is down cluster=alpha`));
    assert.match(error!, new RegExp(`^<${DAEMON_ERR}>.*apply failed`));
    assert.deepEqual(problems, []);
  });

  it('a missing local socket: one message on stderr, everything still on stdout, the daemon keeps running', { timeout: 60000 }, async (t) => {
    const cleanup = testCleanup(t);
    const absent = join(mkdtempSync(join(tmpdir(), 'rh-syslog-absent-')), 'log.sock');
    assert.equal(existsSync(absent), false, 'no socket there');
    const rh = await daemonWithSyslog(cleanup, absent);
    await rejectedReload(rh);
    await waitFor(() => syslogNotes(rh).length > 0, { timeoutMs: 10000, what: 'the syslog problem reported on stderr', stopIf: () => daemonExited(rh.d) });
    await rejectedReload(rh);
    await rejectedReload(rh);
    assert.equal(syslogNotes(rh).length, 1, `one message, not one per line: ${rh.d.stderr()}`);
    assert.match(syslogNotes(rh)[0]!, new RegExp(absent.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal(logged(rh.d, 'configuration reload rejected').length, 3, 'stdout still has every line');
    await stillServing(rh);
  });

  it('a local socket that goes away mid-run does not crash the daemon', { timeout: 60000 }, async (t) => {
    const cleanup = testCleanup(t);
    const sock = join(mkdtempSync(join(tmpdir(), 'rh-syslog-gone-')), 'log.sock');
    const receiver = await unixSyslogReceiver(cleanup, sock);
    const rh = await daemonWithSyslog(cleanup, sock);
    await rejectedReload(rh);
    await waitFor(() => receiver.messages().some((m) => m.includes('configuration reload rejected')), { timeoutMs: 10000, what: 'the error at the socket', stopIf: () => daemonExited(rh.d) });

    await receiver.stop();
    rmSync(sock);
    assert.equal(existsSync(sock), false, 'the socket is gone');
    await rejectedReload(rh);
    await rejectedReload(rh);
    assert.ok(syslogNotes(rh).length <= 1, `at most one syslog message on stderr: ${rh.d.stderr()}`);
    await stillServing(rh);
  });
});
