import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startCluster, useCleanup } from '../harness/index.js';
import { runBin, waitListening } from '../support/daemon-process.js';
import { prepareHaproxy } from '../support/haproxy-setup.js';

const CHROMIUM = '/usr/bin/chromium';

/** The status page in a real browser (Debian's chromium driven by playwright-core) against a real cluster. */
describe('status page in a real browser', { timeout: 120000, skip: existsSync(CHROMIUM) ? false : 'chromium is not installed (apt-get install chromium)' }, () => {
  const cleanup = useCleanup();

  it('shows the confirmed master, then the new master and a timeline entry after a real failover, without a reload', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    // With a real HAProxy output, so the page shows an output's state too.
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: true });
    const port = setup.apiPort;
    const d = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', `127.0.0.1:${port}`]);
    await waitListening(d);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanup.add(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await page.goto(`http://127.0.0.1:${port}/`);
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const clusters = page.locator('#clusters');
    await clusters.getByText(`127.0.0.1:${master.port}`).waitFor({ timeout: 10000 });
    await page.locator('#sentinels').getByText('alive').first().waitFor({ timeout: 10000 });

    await master.kill('SIGKILL');
    await clusters.getByText(`127.0.0.1:${replica.port}`).waitFor({ timeout: 30000 });
    await page.locator("#timeline li", { hasText: `127.0.0.1:${master.port} → 127.0.0.1:${replica.port}` }).waitFor({ timeout: 10000 });
    assert.equal(navigations, 1, 'updated live, no page reload');
    assert.match(await page.locator('#conn').innerText(), /live/);
    await page.locator('#outputs').getByText('up to date').waitFor({ timeout: 10000 });
    const shot = fileURLToPath(new URL('../../docs/status-page.png', import.meta.url));
    await page.screenshot({ path: shot, fullPage: true });

    // Readable on a phone: same page at 390px wide still shows the master.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await clusters.getByText(`127.0.0.1:${replica.port}`).isVisible());
  });
});
