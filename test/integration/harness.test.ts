import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, routedTo, startCluster, startRedis, useCleanup, Cleanup, waitFor, withFreePort, pidAlive } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { startNginxDaemon } from '../support/nginx-setup.js';
import { runBin } from '../support/daemon-process.js';

describe('test harness (real redis-server and sentinels)', { timeout: 400000 }, () => {
  const outer = useCleanup();

  it('starts a failover-ready cluster, fails it over on kill -9, and cleans up every process', async () => {
    const cleanup = new Cleanup();
    outer.add(() => cleanup.run());
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    assert.equal(await master.role(), 'master');
    assert.equal(await replica.role(), 'slave');
    const pids = [master, replica, ...cluster.sentinels].map((n) => n.pid!);
    await master.kill('SIGKILL');
    const next = await cluster.waitForFailover('testing', { host: master.host, port: master.port }, 30000);
    assert.equal(next.port, replica.port);
    await master.restart();
    assert.ok(master.running);
    pids.push(master.pid!);
    await cleanup.run();
    for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} still alive`);
  });

  it('a waitFor fails at once, naming the child, when a started server exits without being killed by the test', async () => {
    const cleanup = new Cleanup();
    outer.add(() => cleanup.run());
    const node = await startRedis(cleanup);
    const waiting = waitFor(() => false, { timeoutMs: 120000, what: 'something that never happens' });
    process.kill(node.pid!, 'SIGKILL'); // behind the harness's back: a crash
    // A timeout would say "timed out after 120000ms"; the crash is reported instead (and long before the bound).
    await assert.rejects(waiting, (err: Error) => /redis:\d+ exited unexpectedly \(code null, signal SIGKILL\)/.test(err.message));
    // A kill through the harness is expected: waits go on.
    const other = await startRedis(cleanup);
    await other.kill('SIGKILL');
    assert.equal(await waitFor(() => 'done', { timeoutMs: 5000, what: 'a wait after an expected kill' }), 'done');
  });

  it('a start that loses its port to another process is retried on a new port', async () => {
    const cleanup = new Cleanup();
    outer.add(() => cleanup.run());
    // Take a port, and make the first start try it: it must fail with EADDRINUSE, then move on.
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as net.AddressInfo).port;
    const tried: number[] = [];
    const node = await withFreePort('127.0.0.1', (port) => {
      const p = tried.length === 0 ? taken : port;
      tried.push(p);
      return startRedis(cleanup, { port: p });
    });
    squatter.close();
    assert.ok(tried.length >= 2, 'the start on the taken port failed and was retried');
    assert.ok(!tried.slice(1).includes(taken), `the retries asked for new ports, not the taken one again (${tried.join(', ')})`);
    assert.equal(node.port, tried.at(-1), 'the server runs on the port of the attempt that succeeded');
    assert.equal(await node.role(), 'master');
  });

  /** A port chooser whose first answer is a port another process holds (the freePort race, forced). */
  async function takenFirst(cleanup: Cleanup) {
    // Accepts and holds connections (the routing checks connect to it): destroyed on clean-up.
    const held = new Set<net.Socket>();
    const squatter = net.createServer((s) => held.add(s.on('error', () => {})));
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    cleanup.add(() => {
      for (const s of held) s.destroy();
      squatter.close();
    });
    const taken = (squatter.address() as net.AddressInfo).port;
    let handedOut = 0;
    const choosePort = async () => (handedOut++ === 0 ? taken : await freePort());
    return { taken, choosePort };
  }

  it('an HAProxy frontend port taken before HAProxy binds it: HAProxy and the daemon start again on new ports', { timeout: 150000 }, async () => {
    const cleanup = new Cleanup();
    outer.add(() => cleanup.run());
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const { taken, choosePort } = await takenFirst(cleanup);
    // What each attempt started, to check that the failed one left nothing running.
    const attempts: Array<{ ext: number; haproxyPid: number; daemonPid?: number }> = [];
    const started = await startHaproxyDaemon(cleanup, cluster, {
      runtime: false,
      choosePort,
      edit: (setup) => attempts.push({ ext: setup.externalPorts.get('testing')!, haproxyPid: setup.haproxy.pid! }),
      run: (scope, args) => {
        const d = runBin(scope, 'redishappy-haproxy', args);
        attempts.at(-1)!.daemonPid = d.child.pid;
        return d;
      },
    });
    assert.equal(started.attempt, 2, 'the first attempt failed on the taken port and was started again');
    assert.equal(attempts.length, 2);
    const [first, second] = attempts as [(typeof attempts)[0], (typeof attempts)[0]];
    assert.equal(first.ext, taken, 'the first attempt was configured with the taken port');
    assert.notEqual(second.ext, first.ext, 'the second attempt chose a new port');
    assert.equal(pidAlive(first.haproxyPid), false, 'the first attempt\'s HAProxy was stopped');
    assert.equal(pidAlive(first.daemonPid!), false, 'the first attempt\'s daemon was stopped');
    assert.ok(pidAlive(second.haproxyPid) && pidAlive(second.daemonPid!), 'the second attempt\'s processes run');
    const ext = started.setup.externalPorts.get('testing')!;
    assert.equal(ext, second.ext);
    assert.equal(await routedTo(ext), cluster.masters.get('testing')!.port);
    assert.equal((await fetch(`${started.api}/api/ping`)).status, 200, 'the API answers on the port the kernel chose');
  });

  it('an nginx port taken before nginx binds it: nginx and the daemon start again on a new port', { timeout: 150000 }, async () => {
    const cleanup = new Cleanup();
    outer.add(() => cleanup.run());
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const { taken, choosePort } = await takenFirst(cleanup);
    const attempts: Array<{ ext: number; nginxPid: number }> = [];
    const started = await startNginxDaemon(cleanup, cluster, {
      choosePort,
      edit: (config, ng) => attempts.push({ ext: (config.Clusters as Array<{ ExternalPort: number }>)[0]!.ExternalPort, nginxPid: ng.nginx.pid! }),
    });
    assert.equal(started.attempt, 2, 'the first attempt failed on the taken port and was started again');
    assert.equal(attempts.length, 2);
    const [first, second] = attempts as [(typeof attempts)[0], (typeof attempts)[0]];
    assert.equal(first.ext, taken, 'the first attempt was configured with the taken port');
    assert.notEqual(second.ext, first.ext, 'the second attempt chose a new port');
    assert.equal(pidAlive(first.nginxPid), false, 'the first attempt\'s nginx was stopped');
    assert.equal(pidAlive(started.daemon.child.pid!), true);
    assert.equal(started.ext, second.ext);
    assert.equal(await routedTo(started.ext), cluster.masters.get('testing')!.port);
  });
});
