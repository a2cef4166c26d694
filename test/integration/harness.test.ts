import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, useCleanup, Cleanup } from '../harness/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test harness (real redis-server and sentinels)', { timeout: 60000 }, () => {
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
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still alive`);
  });
});
