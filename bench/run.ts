/**
 * npm run bench: failover propagation (runtime API and reload modes), mass failover (50 clusters),
 * scale (1,000 clusters, stand-in sentinel), and cost (start-up to routing, idle memory/CPU).
 * With BENCH_BASELINE_CMD set, every measurement runs for ours and for that daemon, interleaved
 * on the same fixtures, and the table gets a ratio column (ours / baseline). Results:
 * bench/results/<name>.json; a table on stdout. BENCH_ONLY=propagation,mass,scale,cost (or soak, outage, readpool, readpool-sigstop: not in the default) picks
 * scenarios (see bench/README.md).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, routedTo, startCluster, waitFor, type ClusterFixture } from '../test/harness/index.js';
import { prepareHaproxy, type HaproxySetup } from '../test/support/haproxy-setup.js';
import { editJson } from '../test/support/paths.js';
import { daemonSpecs, percentiles, procStats, startDaemon, writeResult, type DaemonSpec } from './lib.js';
import { ManyMastersSentinel, roleMasterServer } from './stand-in-sentinel.js';
import { soak } from './soak.js';

const only = (process.env.BENCH_ONLY ?? 'propagation,mass,scale,cost').split(',');
const specs = daemonSpecs();
const comparing = specs.length > 1;
type Key = DaemonSpec['key'];
type Row = { what: string; ours: string; baseline: string; ratio: string; target: string; result: string };
const rows: Row[] = [];
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n * 10) / 10} ms`);
const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
const pct = (n: number) => `${n.toFixed(2)} %`;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
// Production watcher settings (the original's config has no Watcher section): the harness's fast
// test timings would poll five times as often as an operator's daemon does.
const PRODUCTION_WATCHER = { extra: { Watcher: {} } };

/**
 * One table row. `target`: an absolute limit on ours ({ max }) and/or on the ratio ({ ratio }).
 */
function row(what: string, values: Partial<Record<Key, number | null>>, fmt: (n: number) => string, target: { max?: number; ratio?: number; text?: string } = {}, extra: Partial<Record<Key, string>> = {}): void {
  const ours = values.ours ?? null;
  const base = values.baseline ?? null;
  const ratio = ours !== null && base !== null && base > 0 ? ours / base : null;
  const checks: boolean[] = [];
  if (target.max !== undefined && ours !== null) checks.push(ours <= target.max);
  if (target.ratio !== undefined && ratio !== null) checks.push(ratio <= target.ratio);
  const text = target.text ?? [target.max !== undefined ? `≤ ${fmt(target.max)}` : '', target.ratio !== undefined ? `≤ ${target.ratio}×` : ''].filter(Boolean).join(', ');
  rows.push({
    what,
    ours: ours === null ? '–' : `${fmt(ours)}${extra.ours ? ` ${extra.ours}` : ''}`,
    baseline: base === null ? '–' : `${fmt(base)}${extra.baseline ? ` ${extra.baseline}` : ''}`,
    ratio: ratio === null ? '' : `${ratio.toFixed(2)}×`,
    target: text,
    result: checks.length === 0 ? '' : checks.every(Boolean) ? 'met' : 'MISSED',
  });
}

async function metricValue(apiPort: number, re: RegExp): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    const m = re.exec(await res.text());
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function readLines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Put HAProxy back on its empty start-up file and wait until the given ports no longer route. */
async function resetHaproxy(setup: HaproxySetup, skeleton: string, ports: number[]): Promise<void> {
  writeFileSync(setup.outputPath, skeleton);
  // Through the master CLI, which waits for the new worker: a SIGUSR2 that reaches the master
  // while it re-executes for an earlier reload is lost (and with it the next daemon's reload).
  let asked = 0;
  const closed = async () => {
    if (performance.now() - asked > 2000) {
      await setup.haproxy.reloadViaMaster().catch(() => {});
      asked = performance.now();
    }
    for (const port of ports) if (await routedTo(port).then(() => true, () => false)) return false;
    return true;
  };
  await waitFor(closed, { timeoutMs: 30000, intervalMs: 20, what: 'HAProxy reset to the empty file' });
  await sleep(300); // a late reload the stopped daemon asked for is over too
}

const routesTo = (port: number, target: number) => routedTo(port).then((p) => p === target, () => false);

/** The master once every sentinel names the same one at the same epoch (a failover has settled). */
async function currentMaster(cluster: ClusterFixture, name: string): Promise<number> {
  return waitFor(
    async () => {
      const views = await Promise.all(cluster.sentinels.map((s) => cluster.sentinelMaster(name, s).catch(() => null)));
      const first = views[0];
      return first && views.every((v) => v && v.port === first.port && v.configEpoch === first.configEpoch) ? first.port : null;
    },
    { timeoutMs: 60000, intervalMs: 100, what: `sentinels agree on ${name}'s master` },
  );
}

async function propagation(runtime: boolean, rounds: number, chunk: number): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 2, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime, ...PRODUCTION_WATCHER });
    const skeleton = readFileSync(setup.outputPath, 'utf8');
    const ext = setup.externalPorts.get('testing')!;
    // Reload mode: the reload command first appends the wall-clock time it started to a file of
    // its own, the same for every daemon, so each failover splits into "announcement → reload
    // command runs" (the daemon's part) and "reload command → routed" (HAProxy's part).
    const stampLog = join(setup.dir, 'reload-stamps.log');
    if (!runtime) editJson(setup.configPath, (c) => void ((c.HAProxy as Record<string, unknown>).ReloadCommand = `date +%s%N >> ${stampLog} && ${String((c.HAProxy as Record<string, unknown>).ReloadCommand)}`));
    const stamps = (): number[] => (existsSync(stampLog) ? readFileSync(stampLog, 'utf8').split('\n').filter(Boolean).map((l) => Number(BigInt(l) / 1000n) / 1000) : []);
    const split: Record<string, { daemon: number[]; haproxy: number[] }> = {};
    const messages: Array<{ at: number; port: number }> = [];
    for (const s of cluster.sentinels) {
      const sub = s.client();
      await sub.subscribe('+switch-master');
      sub.on('message', (_c: string, m: string) => messages.push({ at: performance.now(), port: Number(m.split(' ')[4]) }));
      cleanup.add(() => sub.disconnect());
    }
    const samples: Record<string, number[]> = {};
    const internal: Record<string, number[]> = {};
    const reloads: Record<string, number> = {};
    let done = 0;
    let i = 0;
    // A, B, A, B: each daemon runs `chunk` failovers in turn on the same cluster and HAProxy.
    while (done < rounds) {
      const n = Math.min(chunk, rounds - done);
      for (const spec of specs) {
        samples[spec.key] ??= [];
        internal[spec.key] ??= [];
        let current = await currentMaster(cluster, 'testing');
        await resetHaproxy(setup, skeleton, [ext]);
        const daemon = startDaemon(cleanup, spec, setup.configPath, `127.0.0.1:${setup.apiPort}`);
        await waitFor(() => routesTo(ext, current), { timeoutMs: 30000, what: `${spec.key}: routing` });
        await sleep(1000); // every sentinel connection of the daemon is up
        const reloadsBefore = readLines(setup.reloadLog);
        for (let r = 0; r < n; r++, i++) {
          const from = messages.length;
          const s = cluster.sentinels[i % 3]!.client();
          await waitFor(async () => s.call('SENTINEL', 'FAILOVER', 'testing').then(() => true, () => false), { timeoutMs: 30000, intervalMs: 50, what: 'failover accepted' });
          s.disconnect();
          // Sentinels repeat +switch-master, some late: the first message naming a new master is t0.
          const t0msg = await waitFor(() => messages.slice(from).find((m) => m.port !== current), { timeoutMs: 30000, intervalMs: 1, what: '+switch-master' });
          current = t0msg.port;
          // A new connection through HAProxy's external port every millisecond until it lands on the new master.
          await waitFor(() => routesTo(ext, t0msg.port), { timeoutMs: 10000, intervalMs: 1, what: `${spec.key}: routing to the new master` });
          const routedAt = performance.now();
          samples[spec.key]!.push(routedAt - t0msg.at);
          // The first reload command that started after the announcement (ms, this process's clock).
          const reloadAt = stamps().map((t) => t - performance.timeOrigin).find((t) => t >= t0msg.at - 2);
          if (!runtime && reloadAt !== undefined && reloadAt <= routedAt) {
            split[spec.key] ??= { daemon: [], haproxy: [] };
            split[spec.key]!.daemon.push(reloadAt - t0msg.at);
            split[spec.key]!.haproxy.push(routedAt - reloadAt);
          }
          const inner = await metricValue(setup.apiPort, /^redishappy_failover_propagation_seconds\{cluster="testing",output="haproxy"\} ([\d.e-]+)$/m);
          if (inner !== null) internal[spec.key]!.push(inner * 1000);
        }
        reloads[spec.key] = (reloads[spec.key] ?? 0) + readLines(setup.reloadLog) - reloadsBefore;
        await daemon.stop();
      }
      done += n;
    }
    const name = runtime ? 'propagation-runtime' : 'propagation-reload';
    const mode = runtime ? 'runtime API' : 'reload';
    const splitOf = (key: string) => (split[key] ? { toReloadCommand: { samples: split[key]!.daemon, summary: percentiles(split[key]!.daemon) }, reloadCommandToRouted: { samples: split[key]!.haproxy, summary: percentiles(split[key]!.haproxy) } } : undefined);
    const per = (key: string) => ({ samples: samples[key], summary: percentiles(samples[key] ?? []), internal: { samples: internal[key], summary: percentiles(internal[key] ?? []) }, reloadsDuringFailovers: reloads[key], split: splitOf(key) });
    writeResult(name, { rounds, chunk, unit: 'ms', order: 'interleaved: each daemon in turn runs `chunk` failovers on the same cluster', ...Object.fromEntries(specs.map((s) => [s.key, per(s.key)])) });
    const p50 = (key: string) => (samples[key]?.length ? percentiles(samples[key]!).p50 : null);
    const p95 = (key: string) => (samples[key]?.length ? percentiles(samples[key]!).p95 : null);
    row(`propagation p50, ${mode} mode (${rounds} failovers each)`, { ours: p50('ours'), baseline: p50('baseline') }, ms, runtime ? { ratio: 0.25 } : { ratio: 1.0 });
    row(`propagation p95, ${mode} mode`, { ours: p95('ours'), baseline: p95('baseline') }, ms);
    const inner = (key: string) => (internal[key]?.length ? percentiles(internal[key]!).p50 : null);
    if (inner('ours') !== null) row(`  internal p50: announcement → applied (${mode})`, { ours: inner('ours'), baseline: inner('baseline') }, ms);
    if (!runtime) {
      const part = (key: string, which: 'daemon' | 'haproxy') => (split[key]?.[which].length ? percentiles(split[key]![which]).p50 : null);
      row('  p50: announcement → reload command runs (the daemon)', { ours: part('ours', 'daemon'), baseline: part('baseline', 'daemon') }, ms);
      row('  p50: reload command → routed (HAProxy)', { ours: part('ours', 'haproxy'), baseline: part('baseline', 'haproxy') }, ms);
    }
  } finally {
    await cleanup.run();
  }
}

async function sampler(pid: number): Promise<{ stop(): { peakRss: number; cpuPercent: number } }> {
  const start = procStats(pid);
  const t0 = performance.now();
  let peak = start.rss;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procStats(pid).rss);
    } catch {
      // gone
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      const end = procStats(pid);
      return { peakRss: Math.max(peak, end.rss), cpuPercent: ((end.cpuMs - start.cpuMs) / (performance.now() - t0)) * 100 };
    },
  };
}

async function massFailover(n: number, pairs: number): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const names = Array.from({ length: n }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const cluster: ClusterFixture = await startCluster(cleanup, { names, replicas: 1, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: false, ...PRODUCTION_WATCHER });
    const skeleton = readFileSync(setup.outputPath, 'utf8');
    const ports = names.map((name) => setup.externalPorts.get(name)!);
    const runs: Record<string, Array<Record<string, number>>> = {};
    for (let pair = 0; pair < pairs; pair++) {
      for (const spec of specs) {
        const current = new Map<string, number>();
        for (const name of names) current.set(name, await currentMaster(cluster, name));
        await resetHaproxy(setup, skeleton, ports.slice(0, 3));
        const reloads0 = readLines(setup.reloadLog);
        const t0 = performance.now();
        const daemon = startDaemon(cleanup, spec, setup.configPath, `127.0.0.1:${setup.apiPort}`);
        for (const name of names) await waitFor(() => routesTo(setup.externalPorts.get(name)!, current.get(name)!), { timeoutMs: 60000, what: `${spec.key}: ${name} routed` });
        const startupMs = performance.now() - t0;
        await sleep(1000); // every sentinel connection of the daemon is up
        const startupReloads = readLines(setup.reloadLog) - reloads0;
        const stats = await sampler(daemon.child.pid!);
        const s = cluster.sentinels[0]!.client();
        const t1 = performance.now();
        // All at once; a sentinel may refuse some while it is busy: ask again until each is accepted.
        await Promise.all(names.map((name) => waitFor(async () => s.call('SENTINEL', 'FAILOVER', name).then(() => true, () => false), { timeoutMs: 60000, intervalMs: 100, what: `${name} failover accepted` })));
        s.disconnect();
        for (const name of names) {
          const nodes = [cluster.masters.get(name)!.port, cluster.replicas.get(name)![0]!.port];
          const target = nodes.find((p) => p !== current.get(name))!;
          await waitFor(() => routesTo(setup.externalPorts.get(name)!, target), { timeoutMs: 120000, intervalMs: 5, what: `${spec.key}: ${name} switched` });
        }
        const switchAllMs = performance.now() - t1;
        const failoverReloads = readLines(setup.reloadLog) - reloads0 - startupReloads;
        const { peakRss, cpuPercent } = stats.stop();
        await daemon.stop();
        (runs[spec.key] ??= []).push({ startupMs, startupReloads, switchAllMs, failoverReloads, peakRssBytes: peakRss, cpuPercentDuringFailover: cpuPercent });
      }
    }
    writeResult('mass-failover', { clusters: n, mode: 'reload', order: 'interleaved: A, B, A, B on the same clusters and HAProxy (each run fails over from where the last left)', ...runs });
    const med = (key: string, field: string) => (runs[key]?.length ? percentiles(runs[key]!.map((r) => r[field]!)).p50 : null);
    const pick = (field: string) => ({ ours: med('ours', field), baseline: med('baseline', field) });
    row(`mass failover ${n} clusters: until all switched`, pick('switchAllMs'), ms, { ratio: 0.8 });
    row(`mass failover: HAProxy reloads during the failover`, pick('failoverReloads'), String, { max: 6 });
    row(`mass failover: start-up until all ${n} routed`, pick('startupMs'), ms);
    row(`mass failover: HAProxy reloads during start-up`, pick('startupReloads'), String);
    row(`mass failover: daemon peak RSS`, pick('peakRssBytes'), mb);
    row(`mass failover: daemon CPU during the failover`, pick('cpuPercentDuringFailover'), pct);
  } finally {
    await cleanup.run();
  }
}

async function scale(n: number, idleSeconds: number): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const a = await roleMasterServer();
    const b = await roleMasterServer();
    cleanup.add(() => a.close());
    cleanup.add(() => b.close());
    const names = Array.from({ length: n }, (_, i) => `s${String(i).padStart(4, '0')}`);
    const sentinel = new ManyMastersSentinel(names, a.port);
    await sentinel.start();
    cleanup.add(() => sentinel.stop());
    const dir = mkdtempSync(join(tmpdir(), 'rh-bench-scale-'));
    const template = join(dir, 'tpl.cfg');
    // Backends only: 1,000 frontends would need 1,000 free ports for no extra insight.
    const listener = await freePort(); // haproxy -c refuses a configuration without any listener
    writeFileSync(template, `defaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\nfrontend ft_stats\n bind 127.0.0.1:${listener}\n{{range .Clusters}}\nbackend bk_{{ .Name }}\n server R_{{ .Name }}_1 {{ .Ip }}:{{ .Port }} check\n{{end}}\n`);
    const output = join(dir, 'haproxy.cfg');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ Clusters: names.map((name, i) => ({ Name: name, ExternalPort: 20000 + i })), Sentinels: [{ Host: '127.0.0.1', Port: sentinel.port }], Syslog: { Enabled: false }, HAProxy: { TemplatePath: template, OutputPath: output, ReloadCommand: 'true' } }));
    const complete = (port: number) => existsSync(output) && (readFileSync(output, 'utf8').match(new RegExp(`127\\.0\\.\\d+\\.\\d+:${port} `, 'g')) ?? []).length === n;
    const results: Record<string, Record<string, number | null>> = {};
    for (const spec of specs) {
      const [from, to] = [a.port, b.port];
      sentinel.switchAll(names, from); // where the previous daemon left them
      writeFileSync(output, ''); // the original refuses to start unless the output file exists
      const apiPort = await freePort();
      const t0 = performance.now();
      const daemon = startDaemon(cleanup, spec, config, `127.0.0.1:${apiPort}`);
      await waitFor(() => complete(from), { timeoutMs: 120000, intervalMs: 20, what: `${spec.key}: first complete config` });
      const startupMs = performance.now() - t0;
      await sleep(2000);
      const idle = await sampler(daemon.child.pid!);
      await sleep(idleSeconds * 1000);
      const { peakRss, cpuPercent } = idle.stop();
      const rss = procStats(daemon.child.pid!).rss;
      const t1 = performance.now();
      sentinel.switchAll(names, to);
      await waitFor(() => complete(to), { timeoutMs: 120000, intervalMs: 20, what: `${spec.key}: all switched` });
      const switchMs = performance.now() - t1;
      const applyS = await metricValue(apiPort, /^redishappy_output_last_apply_seconds\{output="haproxy"\} ([\d.e-]+)$/m);
      await daemon.stop();
      results[spec.key] = { startupToCompleteConfigMs: startupMs, rssBytes: rss, peakRssIdleBytes: peakRss, idleCpuPercent: cpuPercent, switchAllMs: switchMs, lastApplyMs: applyS === null ? null : applyS * 1000 };
    }
    writeResult('scale-1000', { clusters: n, idleSeconds, note: 'stand-in sentinel + stand-in ROLE servers; HAProxy file with validation (haproxy -c) for ours, reload command `true`; daemons run one after the other', ...results });
    const pick = (field: string) => ({ ours: results.ours?.[field] ?? null, baseline: results.baseline?.[field] ?? null });
    row(`scale ${n}: start-up to complete file`, pick('startupToCompleteConfigMs'), ms);
    row(`scale ${n}: resident memory (after idle)`, pick('rssBytes'), mb, { max: 100 * 1048576 });
    row(`scale ${n}: idle CPU over ${idleSeconds} s`, pick('idleCpuPercent'), pct, { max: 1 });
    row(`scale ${n}: switch all, until the file is complete`, pick('switchAllMs'), ms);
    if (results.ours?.lastApplyMs != null) row(`  ours: last apply incl. haproxy -c`, { ours: results.ours.lastApplyMs }, ms);
  } finally {
    await cleanup.run();
  }
}

/** How long until our API reports a SIGSTOP-paused sentinel down (null when the daemon has no such API). */
async function silentSentinelDownMs(apiPort: number, cluster: ClusterFixture, index: number): Promise<number | null> {
  const node = cluster.sentinels[index]!;
  const state = async (): Promise<string | null> => {
    try {
      const body = (await (await fetch(`http://127.0.0.1:${apiPort}/api/sentinels`, { signal: AbortSignal.timeout(2000) })).json()) as { sentinels?: Record<string, { stateName?: string }> };
      const entry = Object.entries(body.sentinels ?? {}).find(([loc]) => loc.endsWith(`:${node.port}`));
      return entry?.[1].stateName ?? null;
    } catch {
      return null;
    }
  };
  if ((await state()) !== 'alive') return null;
  node.pause();
  const t0 = performance.now();
  try {
    await waitFor(async () => (await state()) === 'down', { timeoutMs: 15000, intervalMs: 10, what: 'paused sentinel marked down' });
    return performance.now() - t0;
  } finally {
    node.resume();
  }
}

async function cost(starts: number, idleSeconds: number): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: true, ...PRODUCTION_WATCHER });
    const skeleton = readFileSync(setup.outputPath, 'utf8');
    const ext = setup.externalPorts.get('testing')!;
    const master = cluster.masters.get('testing')!.port;
    const startup: Record<string, number[]> = {};
    // A, B, A, B: start-up until HAProxy (reset to an empty file) routes to the master.
    for (let i = 0; i < starts; i++) {
      for (const spec of specs) {
        await resetHaproxy(setup, skeleton, [ext]);
        const t0 = performance.now();
        const daemon = startDaemon(cleanup, spec, setup.configPath, `127.0.0.1:${setup.apiPort}`);
        await waitFor(() => routesTo(ext, master), { timeoutMs: 30000, intervalMs: 2, what: `${spec.key}: routing` });
        (startup[spec.key] ??= []).push(performance.now() - t0);
        await daemon.stop();
      }
    }
    // Idle: all daemons at once over the same window (the machine's noise hits both alike), each
    // with its own output file and a no-op reload so they do not disturb each other.
    const base = JSON.parse(readFileSync(setup.configPath, 'utf8')) as { HAProxy: Record<string, unknown> };
    const running = await Promise.all(
      specs.map(async (spec) => {
        const out = join(setup.dir, `idle-${spec.key}.cfg`);
        writeFileSync(out, '');
        const config = join(setup.dir, `idle-${spec.key}.json`);
        writeFileSync(config, JSON.stringify({ ...base, HAProxy: { TemplatePath: base.HAProxy.TemplatePath, OutputPath: out, ReloadCommand: 'true' } }));
        const apiPort = await freePort();
        const daemon = startDaemon(cleanup, spec, config, `127.0.0.1:${apiPort}`);
        await waitFor(() => readFileSync(out, 'utf8').includes(`:${master}`), { timeoutMs: 30000, what: `${spec.key}: idle daemon wrote its file` });
        return { spec, daemon, apiPort };
      }),
    );
    await sleep(3000);
    const samplers = await Promise.all(running.map((r) => sampler(r.daemon.child.pid!)));
    await sleep(idleSeconds * 1000);
    const idle = running.map((r, i) => ({ key: r.spec.key, ...samplers[i]!.stop(), rss: procStats(r.daemon.child.pid!).rss }));
    // A silent sentinel (SIGSTOP, TCP open, no answers) must be marked down within 3 s.
    const silentDown: Record<string, number | null> = {};
    for (const r of running) silentDown[r.spec.key] = await silentSentinelDownMs(r.apiPort, cluster, 1 + (running.indexOf(r) % 2));
    const results = Object.fromEntries(
      specs.map((spec) => {
        const i = idle.find((x) => x.key === spec.key)!;
        return [spec.key, { startupToRoutingMs: { samples: startup[spec.key], summary: percentiles(startup[spec.key] ?? []) }, rssBytes: i.rss, idleCpuPercent: i.cpuPercent, pausedSentinelMarkedDownMs: silentDown[spec.key] }];
      }),
    );
    writeResult('cost-idle', { clusters: 1, sentinels: 3, idleSeconds, watcher: 'production defaults (poll every 1 s)', order: 'start-ups interleaved A, B, A, B; idle sampled for all daemons over the same window', ...results });
    const pick = <T>(f: (key: Key) => T | null) => ({ ours: f('ours'), baseline: comparing ? f('baseline') : null }) as Partial<Record<Key, number | null>>;
    row(`start-up until HAProxy routes to the master (p50 of ${starts})`, pick((k) => (startup[k]?.length ? percentiles(startup[k]!).p50 : null)), ms, { ratio: 3 });
    row(`idle CPU, 1 cluster, 3 sentinels (${idleSeconds} s)`, pick((k) => idle.find((x) => x.key === k)?.cpuPercent ?? null), pct, { ratio: 3 });
    row(`idle resident memory, 1 cluster`, pick((k) => idle.find((x) => x.key === k)?.rss ?? null), mb, { max: 55 * 1048576 });
    row(`paused (SIGSTOP) sentinel marked down after`, pick((k) => silentDown[k] ?? null), ms, { max: 3000 });
  } finally {
    await cleanup.run();
  }
}

function printTable(): void {
  const header: Row = { what: 'measure', ours: 'ours', baseline: 'baseline', ratio: 'ours/baseline', target: 'target', result: '' };
  const cols: Array<keyof Row> = comparing ? ['what', 'ours', 'baseline', 'ratio', 'target', 'result'] : ['what', 'ours', 'target', 'result'];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[header, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => cols.map((c) => r[c].padEnd(width[c])).join(' | ');
  console.log(`\n${line(header)}`);
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const started = performance.now();
  const env = (k: string, d: number) => Number(process.env[k] ?? d);
  for (const s of specs) console.error(`bench: ${s.key}: ${s.template}`);
  // A scenario that fails (a fixture that never settles on a loaded machine) is reported in the
  // table and the others still run; the exit code is then 1.
  const guarded = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      console.error(`bench: ${what} failed:`, err);
      rows.push({ what: `${what}: FAILED (${(err as Error).message})`, ours: '', baseline: '', ratio: '', target: '', result: 'FAILED' });
    }
  };
  if (only.includes('propagation')) {
    await guarded('propagation, runtime API', () => propagation(true, env('BENCH_ROUNDS', 20), env('BENCH_CHUNK', 5)));
    await guarded('propagation, reload', () => propagation(false, env('BENCH_ROUNDS', 20), env('BENCH_CHUNK', 5)));
  }
  if (only.includes('mass')) await guarded('mass failover', () => massFailover(env('BENCH_MASS', 50), env('BENCH_MASS_PAIRS', 2)));
  if (only.includes('scale')) await guarded('scale', () => scale(env('BENCH_SCALE', 1000), env('BENCH_SCALE_IDLE_S', 30)));
  if (only.includes('cost')) await guarded('cost', () => cost(env('BENCH_STARTS', 5), env('BENCH_IDLE_S', 60)));
  if (only.includes('spawn')) await guarded('spawn', async () => (await import('./spawn.js')).spawnBench());
  if (only.includes('outage')) await guarded('client-visible outage', async () => (await import('./outage.js')).outage(env('BENCH_OUTAGE_ROUNDS', 5), rows));
  if (only.includes('readpool')) await guarded('read pool', async () => (await import('./readpool.js')).readpool(env('BENCH_READPOOL_ROUNDS', 5), rows));
  if (only.includes('readpool-sigstop')) await guarded('read pool, SIGSTOP', async () => (await import('./readpool.js')).readpool(env('BENCH_READPOOL_ROUNDS', 5), rows, 'sigstop'));
  if (only.includes('soak')) {
    await guarded('soak', async () => {
      const r = await soak(specs[0]!, env('BENCH_SOAK_FAILOVERS', 100), env('BENCH_SOAK_WARMUP', 20));
      row(`soak: failovers followed (reload mode)`, { ours: r.followed }, (n) => `${n}/${r.failovers}`, { text: `${r.failovers}/${r.failovers}` });
      row(`soak: RSS growth over ${r.failovers} failovers, event ring full`, { ours: r.rssGrowthBytes }, (n) => `${(n / 1048576).toFixed(2)} MB`, { max: 2 * 1048576 });
    });
  }
  printTable();
  console.log(`\nbench finished in ${((performance.now() - started) / 1000).toFixed(0)} s; JSON in bench/results/`);
  process.exit(rows.some((r) => r.result === 'FAILED') ? 1 : 0);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
