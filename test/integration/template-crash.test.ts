import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, runBin, waitListening } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';

/** issue 14/16: a daemon killed with -9 while validating leaves a candidate; the next start removes it. */
describe('template output: kill -9 during validation', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('leaves a candidate beside the file, which the next start removes', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-template-crash-'));
    const templatePath = join(dir, 'masters.env.tmpl');
    const outputPath = join(dir, 'masters.env');
    const validating = join(dir, 'validating.pid');
    writeFileSync(templatePath, readFileSync(new URL('../../examples/file/masters.env.tmpl', import.meta.url), 'utf8'));
    // The validator records its pid and hangs (it runs in its own process group, so it outlives a kill -9 of the daemon).
    cleanup.add(() => {
      if (existsSync(validating)) {
        try {
          process.kill(Number(readFileSync(validating, 'utf8').trim()), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    const config = (validate: string) => JSON.stringify({
      Clusters: [{ Name: 'testing', ExternalPort: 7000 }],
      Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
      Watcher: FAST_WATCHER,
      Syslog: { Enabled: false },
      Templates: [{ Name: 'env', TemplatePath: templatePath, OutputPath: outputPath, ValidateCommand: validate }],
    });
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, config(`echo $$ > ${validating}; exec sleep 60`));
    const first = runBin(cleanup, 'redishappy', ['-config', configPath, '-bind', ANY_PORT]);
    await waitListening(first);
    await waitFor(() => existsSync(validating) && readFileSync(validating, 'utf8').trim() !== '', { timeoutMs: 20000, what: 'validation under way' });
    first.child.kill('SIGKILL');
    await first.exited;
    const candidates = () => readdirSync(dir).filter((n) => /^\.masters\.env\.redishappy-\d+-\d+\.tmp$/.test(n));
    assert.equal(candidates().length, 1, `the kill left a candidate: ${readdirSync(dir).join(', ')}`);
    assert.equal(existsSync(outputPath), false, 'nothing was installed');

    writeFileSync(configPath, config('grep -q REDIS_testing_HOST {file}'));
    const second = runBin(cleanup, 'redishappy', ['-config', configPath, '-bind', ANY_PORT]);
    await waitListening(second);
    await waitFor(() => existsSync(outputPath), { timeoutMs: 20000, what: 'the file written by the second run' });
    assert.deepEqual(candidates(), [], 'the stale candidate was removed');
    assert.match(readFileSync(outputPath, 'utf8'), new RegExp(`REDIS_testing_PORT=${cluster.masters.get('testing')!.port}`));
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });
});
