import assert from 'node:assert/strict';
import { routedTo, type RedisNode } from '../harness/index.js';

async function roleOf(node: RedisNode): Promise<string> {
  // Sentinel kills normal clients when it reconfigures an instance: ask on a fresh connection.
  const c = node.client();
  try {
    return String(((await c.call('ROLE')) as string[])[0]);
  } finally {
    c.disconnect();
  }
}

/**
 * The FAQ scenario: the old master, restarted, announces itself as master. Every new client
 * connection through the proxy's port (or through each of several proxies' ports, in turn) must
 * land on the new master until Sentinel has demoted it (and for at least 20 checks). Asserts the
 * fault first: the old master really answers ROLE master.
 */
export async function assertOldMasterNeverRouted(ext: number | number[], oldMaster: RedisNode, newMasterPort: number, proxy: string, timeoutMs = 30000): Promise<number> {
  const ports = Array.isArray(ext) ? ext : [ext];
  await oldMaster.restart();
  assert.equal(await roleOf(oldMaster), 'master', 'the restarted old master announces itself as master');
  let checks = 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const port of ports) assert.equal(await routedTo(port), newMasterPort, `a client reached the old master through ${proxy}${ports.length > 1 ? ` (port ${port})` : ''}`);
    checks++;
    if ((await roleOf(oldMaster).catch(() => 'unknown')) === 'slave' && checks >= 20) return checks;
    assert.ok(Date.now() < deadline, `old master not demoted by Sentinel within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
