/**
 * Start-up timeline of our daemon (bundle, as the launchers run it): 1 cluster, 3 sentinels, real
 * HAProxy (master-worker), runtime socket configured as in the bench's cost scenario. Each start
 * runs at --log-level debug; every log line is placed on a timeline relative to the spawn, plus
 * the moment HAProxy's external port routes to the master. Prints the median of each step.
 *
 *   node --import tsx bench/startup-profile.ts            (STARTS=7, NODE_FLAGS='--cpu-prof ...', HAPROXY_PATCH='{...}')
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Cleanup, routedTo, startCluster, waitFor } from '../test/harness/index.js';
import { prepareHaproxy } from '../test/support/haproxy-setup.js';
import { editJson } from '../test/support/paths.js';
import { ROOT, percentiles } from './lib.js';

const starts = Number(process.env.STARTS ?? 7);
const nodeFlags = (process.env.NODE_FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
const reloadMode = process.env.RELOAD_MODE === '1';
// Another entry (e.g. a runner for a build made with BUILD_MINIFY=0, for readable --cpu-prof names).
const entry = process.env.ENTRY ?? `${ROOT}bin/redishappy-haproxy.js`;

const cleanup = new Cleanup();
try {
  const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
  const setup = await prepareHaproxy(cleanup, cluster, { runtime: !reloadMode, extra: { Watcher: {} } });
  // An experiment on one setting, e.g. HAPROXY_PATCH='{"ValidateCommand":""}' (no haproxy -c).
  if (process.env.HAPROXY_PATCH) editJson(setup.configPath, (c) => Object.assign(c.HAProxy as object, JSON.parse(process.env.HAPROXY_PATCH!)));
  const skeleton = readFileSync(setup.outputPath, 'utf8');
  const ext = setup.externalPorts.get('testing')!;
  const master = cluster.masters.get('testing')!.port;
  const steps = new Map<string, number[]>();
  const add = (k: string, v: number) => (steps.get(k) ?? steps.set(k, []).get(k)!).push(v);
  for (let i = 0; i < starts; i++) {
    writeFileSync(setup.outputPath, skeleton);
    await setup.haproxy.reloadViaMaster();
    await waitFor(async () => !(await routedTo(ext).then(() => true, () => false)), { timeoutMs: 20000, what: 'reset' });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const p0 = performance.now();
    const child = spawn(process.execPath, [...nodeFlags, entry, '-config', setup.configPath, '-bind', `127.0.0.1:${setup.apiPort}`, '--log-level', 'debug'], { cwd: '/tmp', stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: Array<{ at: number; msg: string }> = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { time: string; msg: string };
          lines.push({ at: Date.parse(j.time) - t0, msg: j.msg });
        } catch {
          // not JSON
        }
      }
    });
    await waitFor(() => routedTo(ext).then((p) => p === master, () => false), { timeoutMs: 30000, intervalMs: 2, what: 'routing' });
    const routed = performance.now() - p0;
    await new Promise((r) => setTimeout(r, 200));
    // SIGTERM: a clean exit, so that --cpu-prof writes its profile.
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    add('routes to the master', routed);
    const seen = new Set<string>();
    for (const l of lines) {
      const key = l.msg.slice(0, 70);
      if (seen.has(key)) continue;
      seen.add(key);
      add(key, l.at);
    }
    if (i === 0) for (const l of lines) console.log(`${String(l.at).padStart(5)} ms  ${l.msg.slice(0, 110)}`);
  }
  console.log(`\nmedians over ${starts} starts (ms after spawn):`);
  const order = [...steps.entries()].map(([k, v]) => [k, percentiles(v).p50, v.length] as const).sort((a, b) => a[1] - b[1]);
  for (const [k, p50, n] of order) console.log(`${p50.toFixed(0).padStart(5)}  (${n})  ${k}`);
} finally {
  await cleanup.run();
}
