import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, retryOnPortClash, startCluster, startRedis, startSentinel, useCleanup, waitFor, type ClusterFixture, withCleanup } from '../harness/index.js';
import { ANY_PORT, daemonExited, runBin, waitListening, type DaemonProcess } from '../support/daemon-process.js';
import { ConsulStandIn } from '../support/consul-standin.js';
import { FAST_WATCHER } from '../support/watch.js';
import { editJson, getUnix, logged, tcpSyslogReceiver, unixSyslogReceiver } from '../support/paths.js';

const confirmed = async (api: string, name: string) => {
  const t = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ name: string; port: number | null }>;
  return t.find((c) => c.name === name)?.port ?? null;
};

/** The real daemon process: log file reopen, log level, API binds, syslog, SIGHUP of sentinels, credentials and Consul. */
describe('daemon paths a user will hit (real sentinels, real process)', { timeout: 300000 }, () => {
  const shared = useCleanup();
  let cluster: ClusterFixture;
  const config = (dir: string, extra: Record<string, unknown> = {}) => {
    const path = join(dir, 'config.json');
    const s = cluster.sentinels[0]!;
    writeFileSync(path, JSON.stringify({ Clusters: [{ Name: 'alpha', ExternalPort: 7001 }], Sentinels: [{ Host: s.host, Port: s.port }], Watcher: FAST_WATCHER, Syslog: { Enabled: false }, ...extra }));
    return path;
  };
  const start = async (cleanup: Cleanup, args: string[], env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> => {
    const d = runBin(cleanup, 'redishappy', args, env);
    return d;
  };

  it('starts a shared one-sentinel cluster', { timeout: 60000 }, async () => {
    cluster = await startCluster(shared, { names: ['alpha'], replicas: 0, sentinels: 1 });
  });

  it('-log: after the file is moved away, SIGHUP reopens it and new lines go to the new file', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const dir = mkdtempSync(join(tmpdir(), 'rh-paths-log-'));
      const logDir = join(dir, 'logs');
      const d = await start(cleanup, ['-config', config(dir), '-log', logDir, '-bind', ANY_PORT]);
      await waitListening(d);
      const file = join(logDir, 'redis-happy.log');
      await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('master confirmed'), { timeoutMs: 15000, what: 'first log file written' });
      const rotated = join(logDir, 'redis-happy.log.1');
      renameSync(file, rotated);
      assert.ok(!existsSync(file), 'the file really was moved away');
      d.child.kill('SIGHUP');
      await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('configuration reloaded'), { timeoutMs: 15000, what: 'new log file written after SIGHUP' });
      assert.ok(!readFileSync(rotated, 'utf8').includes('configuration reloaded'), 'nothing after the reopen goes to the moved file');
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }),
  );

  it('--log-level warn: no info lines, warnings and errors still written (the flag wins over REDISHAPPY_LOG_LEVEL)', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const dir = mkdtempSync(join(tmpdir(), 'rh-paths-level-'));
      const cfg = config(dir);
      // At warn the daemon does not log where its API listens, so the port is chosen in advance:
      // if another process takes it first, the daemon exits "address already in use" and is started again.
      const d = await retryOnPortClash(cleanup, 'redishappy --log-level warn', async (scope) => {
        const port = await freePort();
        const api = `http://127.0.0.1:${port}`;
        const d = await start(scope, ['-config', cfg, '--log-level', 'warn', '-bind', `127.0.0.1:${port}`], { REDISHAPPY_LOG_LEVEL: 'debug' });
        await waitFor(async () => (await confirmed(api, 'alpha').catch(() => null)) === cluster.masters.get('alpha')!.port, { timeoutMs: 15000, what: 'alpha confirmed', stopIf: () => daemonExited(d) });
        return d;
      });
      writeFileSync(cfg, '{ broken');
      d.child.kill('SIGHUP');
      await waitFor(() => logged(d, 'configuration reload rejected').length === 1, { timeoutMs: 10000, what: 'the error logged' });
      const levels = d.logs().map((l) => Number(l.level));
      assert.ok(levels.length > 0 && levels.every((l) => l >= 40), `only warn and above: ${levels.join(',')}`);
      assert.equal(logged(d, 'API listening').length, 0);
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }),
  );

  it('-bind on a unix socket and on [::1]', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const dir = mkdtempSync(join(tmpdir(), 'rh-paths-bind-'));
      const cfg = config(dir);
      const sock = join(dir, 'api.sock');
      const u = await start(cleanup, ['-config', cfg, '-bind', sock]);
      await waitListening(u);
      assert.deepEqual(await getUnix(sock, '/api/ping'), { status: 200, body: 'Pong' });
      const topo = await waitFor(async () => {
        const r = await getUnix(sock, '/api/topology');
        const t = JSON.parse(r.body) as Array<{ port: number | null }>;
        return t[0]?.port ? t : undefined;
      }, { timeoutMs: 15000, what: 'topology over the unix socket' });
      assert.equal(topo[0]!.port, cluster.masters.get('alpha')!.port);
      u.child.kill('SIGTERM');
      assert.equal(await u.exited, 0);

      const v6 = await start(cleanup, ['-config', cfg, '-bind', '[::1]:0']);
      const v6api = await waitListening(v6);
      const port = Number(new URL(v6api).port);
      assert.equal(new URL(v6api).hostname, '[::1]');
      const r = await fetch(`http://[::1]:${port}/api/ping`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'Pong');
      await assert.rejects(fetch(`http://127.0.0.1:${port}/api/ping`), 'not listening on IPv4');
    }),
  );

  it('syslog through a local unix datagram socket (like /dev/log) and over TCP', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const dir = mkdtempSync(join(tmpdir(), 'rh-paths-syslog-'));
      const local = await unixSyslogReceiver(cleanup, join(dir, 'log.sock'));
      const tcp = await tcpSyslogReceiver(cleanup);
      for (const [address, receiver] of [[join(dir, 'log.sock'), local], [`tcp://127.0.0.1:${tcp.port}`, tcp]] as const) {
        const sub = mkdtempSync(join(dir, 'd-'));
        const cfg = config(sub, { Syslog: { Enabled: true, Address: address, Facility: 'local0', Tag: 'rh-paths', Level: 'warn' } });
        const d = await start(cleanup, ['-config', cfg, '-bind', ANY_PORT]);
        await waitListening(d);
        writeFileSync(cfg, '{ broken');
        d.child.kill('SIGHUP');
        // local0 (16) * 8 + err (3) = 131
        const line = await waitFor(() => receiver.messages().find((m) => m.includes('configuration reload rejected')), { timeoutMs: 10000, what: `error at ${address}` });
        assert.match(line, /^<131>.*rh-paths(\[\d+\])?: /);
        assert.ok(!receiver.messages().some((m) => m.includes('SIGHUP: reopened')), 'info not sent (Level warn)');
        d.child.kill('SIGTERM');
        assert.equal(await d.exited, 0);
      }
    }),
  );

  it('SIGHUP removing a cluster deregisters its Consul entry (real process, Consul stand-in)', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const two = await startCluster(cleanup, { names: ['one', 'two'], replicas: 0, sentinels: 1 });
      const consul = new ConsulStandIn();
      await consul.start();
      cleanup.add(() => consul.stop());
      const dir = mkdtempSync(join(tmpdir(), 'rh-paths-consul-'));
      const cfg = join(dir, 'config.json');
      const s = two.sentinels[0]!;
      writeFileSync(cfg, JSON.stringify({
        Clusters: [{ Name: 'one', ExternalPort: 7001 }, { Name: 'two', ExternalPort: 7002 }],
        Sentinels: [{ Host: s.host, Port: s.port }],
        Watcher: FAST_WATCHER,
        Syslog: { Enabled: false },
        Consul: { Address: consul.address, Services: [{ Cluster: 'one', Node: 'redis-1', Datacenter: 'dc1' }, { Cluster: 'two', Node: 'redis-2', Datacenter: 'dc1' }] },
      }));
      const d = runBin(cleanup, 'redishappy-consul', ['-config', cfg, '-bind', ANY_PORT]);
      await waitListening(d);
      await waitFor(() => consul.agentServices.get('redishappy-consul-two')?.Port === two.masters.get('two')!.port && consul.agentServices.has('redishappy-consul-one'), { timeoutMs: 15000, what: 'both registered' });
      editJson(cfg, (c) => {
        c.Clusters = [{ Name: 'one', ExternalPort: 7001 }];
        c.Consul.Services = [{ Cluster: 'one', Node: 'redis-1', Datacenter: 'dc1' }];
      });
      d.child.kill('SIGHUP');
      await waitFor(() => !consul.agentServices.has('redishappy-consul-two'), { timeoutMs: 15000, what: 'two deregistered' });
      assert.equal(consul.count('PUT', '/v1/agent/service/deregister/redishappy-consul-two'), 1);
      assert.equal(consul.agentServices.get('redishappy-consul-one')?.Port, two.masters.get('one')!.port, 'one still registered');
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }),
  );

  /** Two sentinels on one master: one open, one with requirepass; the daemon set to Quorum 1. */
  async function twoSentinels(cleanup: Cleanup) {
    const master = await startRedis(cleanup);
    const open = await startSentinel(cleanup, { monitors: [{ name: 'alpha', host: master.host, port: master.port, quorum: 1 }] });
    const locked = await startSentinel(cleanup, { requirePass: 'right-pw', monitors: [{ name: 'alpha', host: master.host, port: master.port, quorum: 1 }] });
    const dir = mkdtempSync(join(tmpdir(), 'rh-paths-creds-'));
    const cfg = join(dir, 'config.json');
    const write = (sentinels: unknown[]) => writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'alpha', ExternalPort: 7001 }], Sentinels: sentinels, Watcher: { ...FAST_WATCHER, Quorum: 1 }, Syslog: { Enabled: false } }));
    let api = ''; // set by run(): the daemon's API, on a port the kernel chose
    const key = `${locked.host}:${locked.port}`;
    const lockedEntry = async () => ((await (await fetch(`${api}/api/sentinels`)).json()) as { sentinels: Record<string, { state: number }> }).sentinels[key];
    const configured = async () => ((await (await fetch(`${api}/api/configuration`)).json()) as { sentinels: Array<{ host: string; port: number }> }).sentinels.map((s) => s.port);
    const run = async () => {
      const d = runBin(cleanup, 'redishappy', ['-config', cfg, '-bind', ANY_PORT]);
      api = await waitListening(d);
      return d;
    };
    return {
      master,
      open,
      locked,
      write,
      get api() {
        return api;
      },
      lockedEntry,
      configured,
      run,
    };
  }

  it('SIGHUP replacing the sentinel list (and giving the new one its password) takes effect', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const t = await twoSentinels(cleanup);
      t.write([{ Host: t.open.host, Port: t.open.port }]);
      const d = await t.run();
      await waitFor(async () => (await confirmed(t.api, 'alpha')) === t.master.port, { timeoutMs: 15000, what: 'confirmed through the open sentinel' });

      t.write([{ Host: t.locked.host, Port: t.locked.port, Password: 'right-pw' }]);
      d.child.kill('SIGHUP');
      await waitFor(async () => (await t.configured()).join() === String(t.locked.port), { timeoutMs: 10000, what: 'sentinel list replaced' });
      await waitFor(async () => (await t.lockedEntry())?.state === 3, { timeoutMs: 15000, what: 'the locked sentinel alive with its password' });
      assert.equal(await confirmed(t.api, 'alpha'), t.master.port);
      assert.ok(!d.stdout().includes('right-pw'), 'password never logged');
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }),
  );

  // Regression: SIGHUP once restarted a configured sentinel's link only when the GLOBAL settings
  // changed, so a new Password/Username on the same Sentinels entry was ignored until a restart.
  it('SIGHUP changing only the password of a configured sentinel takes effect', { timeout: 60000 }, () =>
    withCleanup(async (cleanup) => {
      const t = await twoSentinels(cleanup);
      t.write([{ Host: t.locked.host, Port: t.locked.port, Password: 'wrong-pw' }]);
      const d = await t.run();
      await waitFor(async () => {
        const e = await t.lockedEntry();
        return e && e.state !== 3;
      }, { timeoutMs: 10000, what: 'the locked sentinel seen and refused' });
      t.write([{ Host: t.locked.host, Port: t.locked.port, Password: 'right-pw' }]);
      d.child.kill('SIGHUP');
      await waitFor(() => logged(d, 'configuration reloaded').length === 1, { timeoutMs: 10000, what: 'reload accepted' });
      await waitFor(async () => (await t.lockedEntry())?.state === 3, { timeoutMs: 15000, what: 'the locked sentinel alive with the new password' });
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }),
  );
});
