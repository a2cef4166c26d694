/**
 * Refreshes docs/status-page.png and docs/status-page-dark.png: real sentinels, Redis and HAProxy
 * on 127.0.0.1, redishappy-haproxy, a few real failovers, then Debian's chromium (playwright-core)
 * photographs the status page in light and dark. Run on purpose, not by the tests:
 *   npm run screenshot
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Cleanup, startCluster, waitFor } from '../test/harness/index.js';
import { runBin, waitListening } from '../test/support/daemon-process.js';
import { prepareHaproxy } from '../test/support/haproxy-setup.js';

const CHROMIUM = '/usr/bin/chromium';
const docs = (name: string) => fileURLToPath(new URL(`../docs/${name}`, import.meta.url));

interface TopologyEntry {
  name: string;
  port: number | null;
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const cluster = await startCluster(cleanup, { names: ['orders', 'sessions'], replicas: 1, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: true });
    const base = `http://127.0.0.1:${setup.apiPort}/`;
    const daemon = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', `127.0.0.1:${setup.apiPort}`]);
    await waitListening(daemon);
    const topology = async () => (await (await fetch(`${base}api/topology`)).json()) as TopologyEntry[];
    const portOf = async (name: string) => (await topology()).find((c) => c.name === name)?.port ?? null;
    await waitFor(async () => (await topology()).every((c) => c.port !== null), { timeoutMs: 20000, what: 'both clusters confirmed' });

    // A few real failovers, so the chart has marks: SENTINEL FAILOVER, retried while Sentinel still settles the last one.
    const sentinel = cluster.sentinels[0]!;
    for (const [i, name] of ['orders', 'sessions', 'orders'].entries()) {
      // Spread out in time, so the marks stand apart on the chart's 15-minute range.
      if (i > 0) await new Promise((r) => setTimeout(r, 45000));
      const before = await portOf(name);
      await waitFor(
        async () => {
          try {
            await sentinel.client().call('SENTINEL', 'FAILOVER', name);
            return true;
          } catch {
            return false;
          }
        },
        { timeoutMs: 60000, what: `Sentinel to accept a failover of ${name}` },
      );
      await waitFor(async () => (await portOf(name)) !== before, { timeoutMs: 60000, what: `${name} to fail over` });
      await waitFor(async () => (await (await fetch(`${base}api/ready`)).json() as { ready: boolean }).ready, { timeoutMs: 30000, what: 'outputs applied' });
      console.log(`${name}: failed over to port ${await portOf(name)}`);
    }
    // Let every sentinel catch up, so the picture shows them agreeing.
    await waitFor(
      async () => {
        const t = (await (await fetch(`${base}api/topology`)).json()) as Array<{ views?: Array<{ agrees: boolean }> }>;
        return t.every((c) => (c.views ?? []).length === 3 && c.views!.every((v) => v.agrees));
      },
      { timeoutMs: 60000, what: 'every sentinel naming the confirmed masters' },
    );

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    cleanup.add(() => browser.close());
    for (const [scheme, file] of [['light', 'status-page.png'], ['dark', 'status-page-dark.png']] as const) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, colorScheme: scheme, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await page.goto(base);
      await page.locator('#chart circle.mark').nth(2).waitFor({ timeout: 15000 });
      await page.locator('.range button[data-hours="0.25"]').click();
      await page.screenshot({ path: docs(file), fullPage: true });
      console.log(`wrote docs/${file}`);
      await context.close();
    }
  } finally {
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`screenshot failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
