import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterFixture } from '../harness/index.js';

/** Restart every sentinel of the group with its master's config-epoch set to `epoch` (a group that saw failovers). */
export async function restartAtEpoch(cluster: ClusterFixture, epoch: number, name = 'testing'): Promise<void> {
  for (const s of cluster.sentinels) {
    await s.kill('SIGKILL');
    const conf = join(s.dir, 'sentinel.conf');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}sentinel config-epoch ${name} ${epoch}\n`);
    await s.restart();
  }
}
