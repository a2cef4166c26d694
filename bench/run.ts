/**
 * npm run bench: failover propagation (runtime API and reload modes), mass failover (50 clusters),
 * scale (1,000 clusters, stand-in sentinel), and cost (idle memory/CPU, start-up to routing).
 * Results: bench/results/<name>.json; a table on stdout. BENCH_ONLY=propagation,mass,scale,cost
 * picks scenarios; BENCH_DAEMON_CMD runs another daemon (see bench/README.md).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, routedTo, startCluster, waitFor, type ClusterFixture } from '../test/harness/index.js';
import { prepareHaproxy } from '../test/support/haproxy-setup.js';
import { percentiles, procStats, startDaemon, writeResult } from './lib.js';
import { ManyMastersSentinel, roleMasterServer } from './stand-in-sentinel.js';

const only = (process.env.BENCH_ONLY ?? 'propagation,mass,scale,cost').split(',');
const rows: Array<[string, string, string, string]> = [];
const row = (what: string, value: string, target: string, ok: boolean | null) => rows.push([what, value, target, ok === null ? '' : ok ? 'met' : 'MISSED']);
const ms = (n: number) => `${Math.round(n * 10) / 10} ms`;
const mb = (n: number) => `${Math.round(n / 1048576)} MB`;

async function metricValue(apiPort: number, re: RegExp): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function propagation(runtime: boolean, rounds: number): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 2, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime });
    const ext = setup.externalPorts.get('testing')!;
    startDaemon(cleanup, setup.configPath, `127.0.0.1:${setup.apiPort}`);
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === cluster.masters.get('testing')!.port, { timeoutMs: 20000, what: 'routing' });
    const messages: Array<{ at: number; port: number }> = [];
    for (const s of cluster.sentinels) {
      const sub = s.client();
      await sub.subscribe('+switch-master');
      sub.on('message', (_c: string, m: string) => messages.push({ at: performance.now(), port: Number(m.split(' ')[4]) }));
      cleanup.add(() => sub.disconnect());
    }
    const samples: number[] = [];
    const internal: number[] = [];
    let current = cluster.masters.get('testing')!.port;
    for (let i = 0; i < rounds; i++) {
      const from = messages.length;
      const s = cluster.sentinels[i % 3]!.client();
      await waitFor(async () => s.call('SENTINEL', 'FAILOVER', 'testing').then(() => true, () => false), { timeoutMs: 30000, intervalMs: 50, what: 'failover accepted' });
      s.disconnect();
      // Sentinels repeat +switch-master, some late: the first message naming a new master is t0.
      const t0msg = await waitFor(() => messages.slice(from).find((m) => m.port !== current), { timeoutMs: 30000, intervalMs: 1, what: '+switch-master' });
      current = t0msg.port;
      // A new connection through HAProxy's external port every millisecond until it lands on the new master.
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === t0msg.port, { timeoutMs: 10000, intervalMs: 1, what: 'routing to the new master' });
      samples.push(performance.now() - t0msg.at);
      const inner = await metricValue(setup.apiPort, /^redishappy_failover_propagation_seconds\{cluster="testing",output="haproxy"\} ([\d.e-]+)$/m);
      if (inner !== null) internal.push(inner * 1000);
    }
    const name = runtime ? 'propagation-runtime' : 'propagation-reload';
    const p = percentiles(samples);
    writeResult(name, { rounds, unit: 'ms', samples, summary: p, internal: { samples: internal, summary: percentiles(internal) }, reloads: readLines(setup.reloadLog) });
    const target = runtime ? 20 : 100;
    row(`propagation p50 (${runtime ? 'runtime API' : 'reload'})`, `${ms(p.p50)} (p95 ${ms(p.p95)}, max ${ms(p.max)})`, `< ${target} ms`, p.p50 < target);
    if (internal.length) row(`  internal: announcement → applied (${runtime ? 'runtime' : 'reload'})`, `${ms(percentiles(internal).p50)} p50`, '', null);
  } finally {
    await cleanup.run();
  }
}

function readLines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
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

async function massFailover(n: number): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const names = Array.from({ length: n }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const cluster: ClusterFixture = await startCluster(cleanup, { names, replicas: 1, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: false });
    const t0 = performance.now();
    const daemon = startDaemon(cleanup, setup.configPath, `127.0.0.1:${setup.apiPort}`);
    for (const name of names) await waitFor(async () => (await routedTo(setup.externalPorts.get(name)!).catch(() => 0)) === cluster.masters.get(name)!.port, { timeoutMs: 60000, what: `${name} routed` });
    const startupMs = performance.now() - t0;
    const startupReloads = readLines(setup.reloadLog);
    const stats = await sampler(daemon.pid!);
    const s = cluster.sentinels[0]!.client();
    const t1 = performance.now();
    // All at once; a sentinel may refuse some while it is busy: ask again until each is accepted.
    await Promise.all(names.map((name) => waitFor(async () => s.call('SENTINEL', 'FAILOVER', name).then(() => true, () => false), { timeoutMs: 60000, intervalMs: 100, what: `${name} failover accepted` })));
    s.disconnect();
    for (const name of names) {
      const target = cluster.replicas.get(name)![0]!.port;
      await waitFor(async () => (await routedTo(setup.externalPorts.get(name)!).catch(() => 0)) === target, { timeoutMs: 120000, intervalMs: 5, what: `${name} switched` });
    }
    const switchMs = performance.now() - t1;
    const failoverReloads = readLines(setup.reloadLog) - startupReloads;
    const { peakRss, cpuPercent } = stats.stop();
    writeResult('mass-failover', { clusters: n, startupMs, startupReloads, switchAllMs: switchMs, failoverReloads, peakRssBytes: peakRss, cpuPercentDuringFailover: cpuPercent, mode: 'reload' });
    row(`mass failover ${n} clusters: time until all switched`, ms(switchMs), '', null);
    row(`mass failover ${n} clusters: HAProxy reloads`, `${failoverReloads} (start-up: ${startupReloads}, ${ms(startupMs)} until all routed)`, '<= 3', failoverReloads <= 3);
    row(`mass failover: daemon peak RSS / CPU`, `${mb(peakRss)} / ${cpuPercent.toFixed(1)} %`, '', null);
  } finally {
    await cleanup.run();
  }
}

async function scale(n: number): Promise<void> {
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
    const apiPort = await freePort();
    const t0 = performance.now();
    const daemon = startDaemon(cleanup, config, `127.0.0.1:${apiPort}`);
    const complete = (port: number) => existsSync(output) && (readFileSync(output, 'utf8').match(new RegExp(`127\\.0\\.0\\.1:${port} `, 'g')) ?? []).length === n;
    await waitFor(() => complete(a.port), { timeoutMs: 120000, intervalMs: 20, what: 'first complete config' });
    const startupMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await sampler(daemon.pid!);
    await new Promise((r) => setTimeout(r, 30000));
    const { peakRss, cpuPercent } = idle.stop();
    const rss = procStats(daemon.pid!).rss;
    const t1 = performance.now();
    sentinel.switchAll(names, b.port);
    await waitFor(() => complete(b.port), { timeoutMs: 120000, intervalMs: 20, what: 'all switched' });
    const switchMs = performance.now() - t1;
    const renderMs = await metricValue(apiPort, /^redishappy_output_last_apply_seconds\{output="haproxy"\} ([\d.e-]+)$/m);
    writeResult('scale-1000', { clusters: n, startupToCompleteConfigMs: startupMs, rssBytes: rss, peakRssIdleBytes: peakRss, idleCpuPercent30s: cpuPercent, switchAllMs: switchMs, lastApplyMs: renderMs === null ? null : renderMs * 1000, note: 'stand-in sentinel + stand-in ROLE servers; HAProxy file with validation (haproxy -c), reload command `true`' });
    row(`scale ${n}: start-up to complete config`, ms(startupMs), '', null);
    row(`scale ${n}: resident memory`, mb(rss), '< 100 MB', rss < 100 * 1048576);
    row(`scale ${n}: idle CPU over 30 s`, `${cpuPercent.toFixed(2)} %`, '< 1 %', cpuPercent < 1);
    row(`scale ${n}: switch all, until file complete`, `${ms(switchMs)}${renderMs !== null ? ` (last apply incl. haproxy -c: ${ms(renderMs * 1000)})` : ''}`, '', null);
  } finally {
    await cleanup.run();
  }
}

async function cost(): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: true });
    const ext = setup.externalPorts.get('testing')!;
    const t0 = performance.now();
    const daemon = startDaemon(cleanup, setup.configPath, `127.0.0.1:${setup.apiPort}`);
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === cluster.masters.get('testing')!.port, { timeoutMs: 20000, intervalMs: 2, what: 'routing' });
    const startupMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await sampler(daemon.pid!);
    await new Promise((r) => setTimeout(r, 20000));
    const { cpuPercent } = idle.stop();
    const rss = procStats(daemon.pid!).rss;
    writeResult('cost-idle', { clusters: 1, startupToRoutingMs: startupMs, rssBytes: rss, idleCpuPercent20s: cpuPercent, launcher: existsSync(new URL('../dist/redishappy.js', import.meta.url)) ? 'bundle' : 'tsx (TypeScript compiled at start)' });
    row('cost: resident memory idle, 1 cluster', mb(rss), '<= 70 MB', rss <= 70 * 1048576);
    row('cost: CPU idle, 1 cluster (20 s)', `${cpuPercent.toFixed(2)} %`, '<= 0.2 %', cpuPercent <= 0.2);
    row('cost: start-up until HAProxy routes', ms(startupMs), '300 ms', startupMs <= 300);
  } finally {
    await cleanup.run();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  if (only.includes('propagation')) {
    await propagation(true, Number(process.env.BENCH_ROUNDS ?? 20));
    await propagation(false, Number(process.env.BENCH_ROUNDS ?? 20));
  }
  if (only.includes('mass')) await massFailover(Number(process.env.BENCH_MASS ?? 50));
  if (only.includes('scale')) await scale(Number(process.env.BENCH_SCALE ?? 1000));
  if (only.includes('cost')) await cost();
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${'measure'.padEnd(width)} | value | target | result`);
  for (const [a, b, c, d] of rows) console.log(`${a.padEnd(width)} | ${b} | ${c} | ${d}`);
  console.log(`\nbench finished in ${((performance.now() - started) / 1000).toFixed(0)} s; JSON in bench/results/`);
  process.exit(0);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

