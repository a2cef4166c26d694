import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCluster, startRedis, startSentinel, useCleanup, waitFor } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { inCI } from '../support/tools.js';
import { FAST_WATCHER } from '../support/watch.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
// In CI (which installs Debian's chromium) a missing browser fails the test; locally it is skipped, saying why.
const SKIP = !HAVE_CHROMIUM && !inCI() ? `${CHROMIUM} is not installed (apt-get install chromium); in CI this test fails instead` : false;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function backgroundOf(page: Page): Promise<number[]> {
  const bg = await page.locator('body').evaluate((body) => (body.ownerDocument.defaultView as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(body).backgroundColor);
  return (bg.match(/\d+/g) ?? []).slice(0, 3).map(Number);
}
interface TopologyEntry {
  name: string;
  port: number | null;
  held?: { code: string; reason: string; since: string } | null;
  views?: unknown[];
}
const topologyOf = async (base: string): Promise<TopologyEntry[]> => (await (await fetch(`${base}api/topology`)).json()) as TopologyEntry[];
const luminance = ([r = 0, g = 0, b = 0]: number[]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

/** The status page in a real browser (Debian's chromium driven by playwright-core) against real sentinels, HAProxy and redishappy. */
describe('status page in a real browser', { timeout: 180000, skip: SKIP }, () => {
  const cleanup = useCleanup();

  it('shows each cluster, what each sentinel says and a charted failover with its propagation, live, with relative times, in light and dark, and a held cluster', async () => {
    assert.ok(HAVE_CHROMIUM, `${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run)`);
    // down-after 3 s: Sentinel does not fail the new master over a second time on a busy machine.
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3, downAfterMs: 3000 });
    // A sentinel of another deployment: a standalone redis (really ROLE master) under the same name, at config-epoch 50.
    const stray = await startRedis(cleanup);
    const rogue = await startSentinel(cleanup, { monitors: [{ name: 'testing', host: '127.0.0.1', port: stray.port, quorum: 1 }], extraConf: ['sentinel config-epoch testing 50'] });
    // Started (and started again on new ports if a frontend port was taken) until HAProxy routes 'testing'.
    const { api } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: true,
      edit: (setup) => {
        // A second cluster no sentinel monitors: never confirmed, so the page must make it stand out.
        // Its port is never bound (no confirmed master, no frontend), so any number does.
        const config = JSON.parse(readFileSync(setup.configPath, 'utf8')) as { Clusters: unknown[]; Sentinels: unknown[]; Watcher: Record<string, unknown> };
        config.Clusters.push({ Name: 'ghost', ExternalPort: 16399 });
        config.Sentinels.push({ Host: '127.0.0.1', Port: rogue.port });
        config.Watcher = { ...FAST_WATCHER, StartupGraceMs: 1000 };
        writeFileSync(setup.configPath, JSON.stringify(config));
      },
    });
    const base = `${api}/`;

    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    cleanup.add(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, colorScheme: 'light' });
    const page = await context.newPage();
    // Fake timers in the page only (time still flows), so the test can jump ahead to check relative times.
    await page.clock.install();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await page.goto(base);

    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    const testing = page.locator('article.cluster[data-cluster="testing"]');
    const ghost = page.locator('article.cluster[data-cluster="ghost"]');
    await testing.getByText(`127.0.0.1:${master.port}`).first().waitFor({ timeout: 15000 });
    await page.locator('#sentinels').getByText('alive').first().waitFor({ timeout: 15000 });

    // The unmonitored cluster stands out: flagged "bad", its reason shown, and named in the summary.
    await ghost.locator('.badge', { hasText: 'no confirmed master' }).waitFor({ timeout: 10000 });
    assert.equal(await ghost.getAttribute('data-health'), 'bad');
    const topology = await topologyOf(base);
    // The daemon always sends the quorum fields (held, views) for every cluster.
    assert.ok(topology.every((c) => 'held' in c && Array.isArray(c.views)), `held and views for every cluster: ${JSON.stringify(topology)}`);
    const ghostHeld = topology.find((c) => c.name === 'ghost')?.held;
    assert.ok(ghostHeld && typeof ghostHeld.reason === 'string' && ghostHeld.reason !== '', 'the API reports the unconfirmed cluster as held, with a reason');
    const ghostHeldLine = ghost.locator('.held', { hasText: ghostHeld.reason });
    await ghostHeldLine.waitFor({ timeout: 10000 });
    // The hold code is shown beside the label (issue 20).
    assert.ok((await ghostHeldLine.innerText()).startsWith(`No master ${ghostHeld.code}:`), await ghostHeldLine.innerText());
    assert.match(await page.locator('#summary').innerText(), /Needs attention.*ghost/);
    assert.match(await page.title(), /⚠/);

    // Which sentinel says what: one view per sentinel, side by side; the real three name the master,
    // the other deployment's sentinel is highlighted (another master, another epoch) and not counted.
    await waitFor(async () => (await testing.locator('.view.agrees').count()) === 3, { timeoutMs: 20000, what: 'three sentinel views agreeing' });
    const first = testing.locator('.view.agrees').first();
    assert.match(await first.innerText(), new RegExp(`127\\.0\\.0\\.1:${master.port}[\\s\\S]*config-epoch \\d+[\\s\\S]*master`));
    const odd = testing.locator(`.view[data-sentinel="127.0.0.1:${rogue.port}"]`);
    await odd.waitFor({ timeout: 15000 });
    assert.match((await odd.getAttribute('class')) ?? '', /\bdisagrees\b.*\boutside\b/);
    assert.equal(await odd.locator('.differs').first().innerText(), `127.0.0.1:${stray.port}`);
    assert.equal(await odd.locator('.differs').nth(1).innerText(), '50');
    assert.match(await odd.innerText(), /names another master[\s\S]*not counted/);
    assert.equal(await testing.locator('.view.disagrees').count(), 1);

    // An output's details are labelled fields with its state first, not a key=value line.
    const haproxy = page.locator('article.output[data-output="haproxy"]');
    await haproxy.locator('header .badge', { hasText: 'up to date' }).waitFor({ timeout: 20000 });
    assert.match(await haproxy.locator('header').innerText(), /^✔ up to date\s+haproxy/);
    assert.ok((await haproxy.locator('dt').count()) >= 3, 'details shown as labelled fields');
    assert.doesNotMatch(await haproxy.innerText(), /\b[a-z]+[A-Z]\w*=/, 'no camelCase key=value run-on');
    await page.locator('#chart').getByText('no failover in the last 6 h').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#chart circle.mark').count(), 0);

    // A real failover: the master dies, the sentinels promote the replica.
    await master.kill('SIGKILL');
    await testing.locator('dd', { hasText: `127.0.0.1:${replica.port}` }).waitFor({ timeout: 45000 });
    await page.locator('#timeline li', { hasText: `127.0.0.1:${master.port} → 127.0.0.1:${replica.port}` }).waitFor({ timeout: 10000 });
    // One mark on the chart, for that failover, carrying its propagation time once HAProxy applied it.
    const mark = page.locator('#chart circle.mark');
    await waitFor(async () => (await mark.count()) === 1 && ((await mark.getAttribute('data-propagation-ms')) ?? '') !== '', { timeoutMs: 20000, what: 'a chart mark with a propagation time' });
    assert.equal(await mark.getAttribute('data-cluster'), 'testing');
    const propagationMs = Number(await mark.getAttribute('data-propagation-ms'));
    assert.ok(Number.isFinite(propagationMs) && propagationMs > 0, `propagation ${propagationMs}`);
    const events = (await (await fetch(`${base}api/events`)).json()) as { events: Array<{ type: string; from: unknown; applied?: Record<string, { propagationMs: number }> }> };
    const failover = events.events.find((e) => e.type === 'failover' && e.from);
    assert.equal(failover?.applied?.haproxy?.propagationMs, propagationMs, 'the chart shows the recorded per-failover propagation');
    assert.match(await page.locator('#chart svg > g > title').textContent() ?? '', new RegExp(`testing: 127\\.0\\.0\\.1:${master.port} → 127\\.0\\.0\\.1:${replica.port}.*propagated in .*haproxy`));
    assert.match(await page.locator('#timeline li').first().innerText(), /applied: haproxy in \d/);
    await waitFor(async () => (await testing.locator('.view.agrees', { hasText: `127.0.0.1:${replica.port}` }).count()) >= 2, { timeoutMs: 30000, what: 'the sentinels to name the new master' });
    assert.equal(navigations, 1, 'updated live, no page reload');

    // Relative times, with the full time on hover, counting up while the page stays open.
    const confirmed = testing.locator('time[data-prefix="confirmed "]');
    assert.match(await confirmed.innerText(), /^confirmed (just now|\d+ s ago)$/);
    assert.match((await confirmed.getAttribute('title')) ?? '', /\d{4}-\d\d-\d\dT/);
    await page.clock.fastForward('07:00');
    await waitFor(async () => /^confirmed 7 min ago$/.test(await confirmed.innerText()), { timeoutMs: 10000, what: 'the relative time to count up' });
    assert.match(await page.locator('#conn').innerText(), /live · updated \d+ min ago/);

    // Offline: everything the page loaded came from the daemon itself.
    assert.ok(requests.length > 0 && requests.every((u) => u.startsWith(base)), `foreign requests: ${requests.filter((u) => !u.startsWith(base)).join(', ')}`);

    // Readable on a phone: same page at 390px wide still shows the master.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await testing.locator('dd', { hasText: `127.0.0.1:${replica.port}` }).isVisible());

    // The system's dark preference gives a dark page.
    const light = await backgroundOf(page);
    const dark = await browser.newContext({ viewport: { width: 1100, height: 900 }, colorScheme: 'dark' });
    cleanup.add(() => dark.close());
    const darkPage = await dark.newPage();
    await darkPage.goto(base);
    await darkPage.locator('#chart circle.mark').waitFor({ timeout: 10000 });
    const darkBg = await backgroundOf(darkPage);
    assert.ok(luminance(light) > 200 && luminance(darkBg) < 60, `light background ${light}, dark background ${darkBg}`);

    // Held while a master is confirmed: two of the three sentinels stop, then the confirmed master
    // dies. The one sentinel left cannot agree with anyone, so redishappy holds the change and keeps
    // the last confirmed master; the page says so (warn, not bad: clients still have a master).
    await page.setViewportSize({ width: 1100, height: 900 });
    // sentinels[0] is the one in the config (the others were discovered): it is the one that stays.
    const [, s1, s2] = cluster.sentinels;
    await Promise.all([s1!.kill('SIGKILL'), s2!.kill('SIGKILL')]);
    assert.ok(!s1!.running && !s2!.running, 'two of the three sentinels really stopped');
    await replica.kill('SIGKILL');
    assert.ok(!replica.running, 'the confirmed master really died');
    const held = await waitFor(async () => {
      const t = (await topologyOf(base)).find((c) => c.name === 'testing');
      return t?.held && t.port === replica.port ? t.held : undefined;
    }, { timeoutMs: 30000, what: 'the API to report testing as held, its master kept' });
    assert.match(held.reason, /quorum 2 of 3 sentinels/, 'held for want of a quorum');
    const heldLine = testing.locator('.held', { hasText: held.reason });
    await heldLine.waitFor({ timeout: 15000 });
    assert.match(await heldLine.innerText(), new RegExp(`^Held ${held.code}:[\\s\\S]*clients keep going to 127\\.0\\.0\\.1:${replica.port}`));
    assert.equal(held.code, 'no-quorum');
    assert.equal(await testing.getAttribute('data-health'), 'warn');
    assert.match(await testing.locator('header .badge').innerText(), /change held/);
    assert.ok(await testing.locator('dd', { hasText: `127.0.0.1:${replica.port}` }).isVisible(), 'the kept master is still shown');
    assert.match(await page.locator('#summary').innerText(), /Needs attention.*testing/);
  });
});
