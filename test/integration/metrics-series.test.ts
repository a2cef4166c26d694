import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, runBin, waitListening } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';

/**
 * Every labelled series of the configured clusters and outputs is on /metrics from the first
 * scrape, before any failover (Prometheus' instrumentation guidelines), and follows SIGHUP.
 */
describe('metrics series exist before anything happens (real sentinels, real daemon)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('failovers, propagation and apply failures are 0 per cluster and output at start, and follow a SIGHUP (clusters and outputs)', async () => {
    const cluster = await startCluster(cleanup, { names: ['alpha'], replicas: 0, sentinels: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-series-'));
    const cfg = join(dir, 'config.json');
    // A template output (a plain file, no validate or reload command) for the output SIGHUP adds.
    const template = join(dir, 'listing.tmpl');
    writeFileSync(template, '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}');
    const write = (clusters: string[], outputs: 'exec' | 'template' = 'exec') =>
      writeFileSync(
        cfg,
        JSON.stringify({
          Clusters: clusters.map((Name, i) => ({ Name, ExternalPort: 6379 + i })),
          Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }],
          Watcher: FAST_WATCHER,
          Syslog: { Enabled: false },
          ...(outputs === 'exec'
            ? { Exec: [{ Command: process.execPath, Args: ['-e', ''] }] }
            : { Templates: [{ Name: 'listing', TemplatePath: template, OutputPath: join(dir, 'listing.txt') }] }),
        }),
      );
    write(['alpha', 'beta']);
    const d = runBin(cleanup, 'redishappy', ['-config', cfg, '-bind', ANY_PORT]);
    const api = await waitListening(d);
    const scrape = async () => (await fetch(`${api}/metrics`)).text();

    const first = await scrape();
    for (const c of ['alpha', 'beta']) {
      assert.match(first, new RegExp(`^redishappy_failovers_total\\{cluster="${c}"\\} 0$`, 'm'));
      assert.match(first, new RegExp(`^redishappy_failover_propagation_seconds\\{cluster="${c}",output="exec"\\} 0$`, 'm'));
    }
    assert.match(first, /^redishappy_output_apply_failures_total\{output="exec"\} 0$/m);
    assert.match(first, /^redishappy_output_last_apply_seconds\{output="exec"\} /m);

    // SIGHUP: beta removed, gamma added. The series follow the configuration.
    write(['alpha', 'gamma']);
    d.child.kill('SIGHUP');
    const after = await waitFor(async () => {
      const m = await scrape();
      return /^redishappy_failovers_total\{cluster="gamma"\} 0$/m.test(m) ? m : undefined;
    }, { timeoutMs: 15000, what: 'series for the cluster added by SIGHUP' });
    assert.match(after, /^redishappy_failover_propagation_seconds\{cluster="gamma",output="exec"\} 0$/m);
    assert.match(after, /^redishappy_failovers_total\{cluster="alpha"\} 0$/m);
    assert.doesNotMatch(after, /cluster="beta"/);

    // SIGHUP: the exec output removed, a template output "listing" added. The output series follow.
    assert.match(after, /^redishappy_output_apply_failures_total\{output="exec"\} 0$/m);
    write(['alpha', 'gamma'], 'template');
    d.child.kill('SIGHUP');
    const swapped = await waitFor(async () => {
      const m = await scrape();
      return /^redishappy_output_apply_failures_total\{output="listing"\} 0$/m.test(m) ? m : undefined;
    }, { timeoutMs: 15000, what: 'series for the output added by SIGHUP' });
    assert.match(swapped, /^redishappy_output_last_apply_seconds\{output="listing"\} /m);
    assert.match(swapped, /^redishappy_output_in_error\{output="listing"\} 0$/m);
    assert.match(swapped, /^redishappy_output_applied_version\{output="listing"\} /m);
    for (const c of ['alpha', 'gamma']) assert.match(swapped, new RegExp(`^redishappy_failover_propagation_seconds\\{cluster="${c}",output="listing"\\} 0$`, 'm'));
    assert.doesNotMatch(swapped, /output="exec"/, 'no series left for the removed output');
  });
});
