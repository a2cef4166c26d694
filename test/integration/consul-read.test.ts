import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { consulSectionSchema, createConsulOutput } from '../../src/outputs/consul/index.js';
import { OutputRunner } from '../../src/outputs/runner.js';
import { TopologyStore } from '../../src/topology/store.js';
import type { ReadPool } from '../../src/topology/types.js';
import { testCleanup } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';

const log = pino({ level: 'silent' });

const pool = (...ports: number[]): ReadPool => ({
  candidates: ports.map((port) => ({ ip: '127.0.0.2', port, state: 'serving' as const, reason: null, lagBytes: 0 })),
  serving: ports.map((port) => ({ ip: '127.0.0.2', port })),
});

/**
 * Replica entries of the read endpoint (issue 21) against the Consul STAND-IN: the master's
 * entry keeps the original's shape (plus the `master` tag with a read endpoint), the serving
 * replicas are entries of the same service tagged `replica`, so replica.<service>.service.consul works.
 */
for (const mode of ['agent', 'catalog'] as const) {
  describe(`Consul read endpoint entries, ${mode} mode (against the Consul stand-in)`, { timeout: 30000 }, () => {
    it('tags the master `master`, registers serving replicas tagged `replica`, follows the pool, and leaves clusters without a read endpoint as they were', async (t: TestContext) => {
      const cleanup = testCleanup(t);
      const consul = new ConsulStandIn({});
      await consul.start();
      cleanup.add(() => consul.stop());
      const config = consulSectionSchema.parse({ Address: consul.address, Mode: mode, ReconcileIntervalMs: 60000, TimeoutMs: 500, Services: [{ Cluster: 'testing', Tags: ['redis'] }, { Cluster: 'plain', Tags: ['redis', 'master'] }] });
      const topology = new TopologyStore([
        { name: 'testing', externalPort: 7000, externalReadPort: 7100 },
        { name: 'plain', externalPort: 7001 },
      ]);
      const output = createConsulOutput({ config, clusterNames: ['testing', 'plain'], logger: log });
      await output.init?.();
      const runner = new OutputRunner(output, log, { retryMinMs: 50, retryMaxMs: 200 });
      cleanup.add(() => runner.close());
      topology.on('change', (c, snap) => runner.submit(snap, [c]));
      topology.on('replicas', (_c, snap) => runner.submit(snap, []));

      topology.confirm('plain', { ip: '127.0.0.1', port: 6390 }, 1, ['s'], null);
      topology.confirm('testing', { ip: '127.0.0.1', port: 6379 }, 1, ['s'], null);
      topology.setReadPool('testing', pool(6380, 6381));
      await runner.idle();

      const node = (port: number) => consul.resolve('testing').find((e) => e.port === port);
      assert.ok(node(6379), 'testing.service.consul still answers the master');
      assert.deepEqual(consul.resolve('testing', 'master').map((e) => `${e.address}:${e.port}`), ['127.0.0.1:6379'], 'master.testing.service.consul: the master only');
      assert.deepEqual(consul.resolve('testing', 'replica').map((e) => `${e.address}:${e.port}`).sort(), ['127.0.0.2:6380', '127.0.0.2:6381'], 'replica.testing.service.consul: the serving replicas');
      assert.deepEqual(consul.resolve('plain', 'replica'), [], 'no replica entries without a read endpoint');
      assert.deepEqual(consul.resolve('plain').map((e) => `${e.address}:${e.port}`), ['127.0.0.1:6390'], 'the plain cluster has its one entry');

      // A replica leaves the pool: its entry goes; one comes back: registered again.
      topology.setReadPool('testing', pool(6381));
      await runner.idle();
      assert.deepEqual(consul.resolve('testing', 'replica').map((e) => e.port), [6381]);
      topology.setReadPool('testing', pool());
      await runner.idle();
      assert.deepEqual(consul.resolve('testing', 'replica'), [], 'no serving replica: no replica entry');
      assert.deepEqual(consul.resolve('testing', 'master').map((e) => e.port), [6379], 'the master entry stays');
      await runner.close();
    });
  });
}
