/**
 * Soak: many forced failovers in a row against one daemon (reload mode, real HAProxy), checking
 * that each is followed and that resident memory stays flat once the daemon's bounded histories
 * (events, failovers: 200 each in src/cli/daemon.ts) are as full as they get.
 * BENCH_ONLY=soak; BENCH_SOAK_FAILOVERS (100) measured failovers after a warm-up of at least
 * BENCH_SOAK_WARMUP (20) failovers that lasts until /api/events holds EVENT_RING entries.
 * BENCH_SOAK_HEAPSNAPSHOTS=DIR sends SIGUSR2 at the first and the last sample: with ours started by
 * BENCH_DAEMON_CMD='node --heapsnapshot-signal=SIGUSR2 --diagnostic-dir DIR ...', V8 writes a
 * heap snapshot into DIR each time (bench/heap-diff.ts compares them). Writing one inflates RSS:
 * such a run is for the heap, not for the RSS figures.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup, routedTo, startCluster, waitFor } from '../test/harness/index.js';
import { prepareHaproxy } from '../test/support/haproxy-setup.js';
import { procStats, startDaemon, writeResult, type DaemonSpec } from './lib.js';

export interface SoakSample {
  /** Measured failovers done when sampled (0: after the warm-up). */
  failovers: number;
  rssBytes: number;
  heapUsedBytes: number | null;
  /** V8's heap capacity and memory outside it (ArrayBuffers, strings held by native code). */
  heapTotalBytes: number | null;
  externalBytes: number | null;
  /** VmRSS split: anonymous memory (heap, malloc) and file-backed pages (the binary, mapped files). */
  rssAnonBytes: number;
  rssFileBytes: number;
  events: number;
}

export interface SoakResult {
  followed: number;
  failovers: number;
  samples: SoakSample[];
  /** RSS at the last sample minus RSS at the first (after the warm-up). */
  rssGrowthBytes: number;
}

interface TopologyEntry {
  port: number | null;
  configEpoch: number | null;
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return (await res.json()) as T;
}

async function heapFigures(api: string): Promise<Pick<SoakSample, 'heapUsedBytes' | 'heapTotalBytes' | 'externalBytes'>> {
  const text = await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text(), () => '');
  const metric = (name: string) => {
    const m = new RegExp(`^redishappy_${name} ([\\d.e+]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  return { heapUsedBytes: metric('nodejs_heap_size_used_bytes'), heapTotalBytes: metric('nodejs_heap_size_total_bytes'), externalBytes: metric('nodejs_external_memory_bytes') };
}

function rssParts(pid: number): Pick<SoakSample, 'rssAnonBytes' | 'rssFileBytes'> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rssAnonBytes: kb('RssAnon'), rssFileBytes: kb('RssFile') };
}

/** SIGUSR2, then until a new snapshot file in `dir` has stopped growing (V8 writes it in pieces). */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  const files = () => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
  const before = new Set(files());
  process.kill(pid, 'SIGUSR2');
  let last = -1;
  await waitFor(() => {
    const fresh = files().filter((f) => !before.has(f));
    const size = fresh.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    const stable = size > 0 && size === last;
    last = size;
    return stable;
  }, { timeoutMs: 120000, intervalMs: 500, what: 'heap snapshot written' });
}

/** Growth between the first and the last sample: what the soak's target is about. */
export function rssGrowth(samples: Array<Pick<SoakSample, 'rssBytes'>>): number {
  if (samples.length < 2) return 0;
  return samples.at(-1)!.rssBytes - samples[0]!.rssBytes;
}

/** The daemon's event ring (MAX_EVENTS in src/cli/daemon.ts): growth before it is full is expected. */
export const EVENT_RING = 200;

export async function soak(spec: DaemonSpec, failovers: number, warmup: number, sampleEvery = 10): Promise<SoakResult> {
  const cleanup = new Cleanup();
  try {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    // Production watcher timings, as in the other scenarios.
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: false, extra: { Watcher: {} } });
    // BENCH_SOAK_HAPROXY_PATCH='{"Verify":false}': merged into the HAProxy section (to find what a growth comes from).
    const patch = process.env.BENCH_SOAK_HAPROXY_PATCH;
    if (patch) {
      const config = JSON.parse(readFileSync(setup.configPath, 'utf8')) as { HAProxy: Record<string, unknown> };
      writeFileSync(setup.configPath, JSON.stringify({ ...config, HAProxy: { ...config.HAProxy, ...(JSON.parse(patch) as Record<string, unknown>) } }));
    }
    const ext = setup.externalPorts.get('testing')!;
    const api = `http://127.0.0.1:${setup.apiPort}`;
    const daemon = startDaemon(cleanup, spec, setup.configPath, `127.0.0.1:${setup.apiPort}`);
    const pid = daemon.child.pid!;
    const confirmed = async () => (await json<TopologyEntry[]>(`${api}/api/topology`).catch(() => []))[0];
    const first = await waitFor(async () => ((await confirmed())?.port ? confirmed() : undefined), { timeoutMs: 30000, what: 'daemon confirms the first master' });
    let current = first!.port!;
    const samples: SoakSample[] = [];
    let followed = 0;
    let warmed = 0; // failovers the warm-up took, known once it is over
    const events = async () => (await json<{ events: unknown[] }>(`${api}/api/events`)).events.length;
    for (let i = 1; warmed === 0 || i <= warmed + failovers; i++) {
      const via = cluster.sentinels[i % cluster.sentinels.length]!;
      await cluster.forceFailover('testing', via, 60000);
      // Followed: the daemon confirms a master other than the one before, HAProxy routes to it,
      // and it is the one every sentinel names.
      const next = await waitFor(async () => {
        const t = await confirmed();
        return t?.port && t.port !== current ? t.port : undefined;
      }, { timeoutMs: 60000, intervalMs: 20, what: `failover ${i}: daemon confirms the new master` });
      await waitFor(() => routedTo(ext).then((p) => p === next, () => false), { timeoutMs: 30000, intervalMs: 20, what: `failover ${i}: HAProxy routes to it` });
      const agreed = await waitFor(async () => {
        const views = await Promise.all(cluster.sentinels.map((s) => cluster.sentinelMaster('testing', s).catch(() => null)));
        return views.every((v) => v?.port === views[0]?.port) ? views[0]!.port : undefined;
      }, { timeoutMs: 60000, intervalMs: 100, what: `failover ${i}: sentinels agree` });
      if (agreed !== next) throw new Error(`failover ${i}: the daemon confirmed ${next}, the sentinels agree on ${agreed}`);
      current = next;
      if (warmed === 0) {
        if (i >= warmup && (await events()) >= EVENT_RING) warmed = i;
        else if (i >= EVENT_RING) throw new Error(`the event ring did not fill in ${i} failovers`);
        else continue;
      } else followed++;
      const measured = i - warmed;
      if (measured % sampleEvery === 0) {
        const held = await events();
        samples.push({ failovers: measured, rssBytes: procStats(pid).rss, ...rssParts(pid), ...(await heapFigures(api)), events: held });
        const heapDir = process.env.BENCH_SOAK_HEAPSNAPSHOTS;
        if (heapDir && (measured === 0 || measured >= failovers)) await heapSnapshot(pid, heapDir);
        console.error(`soak: ${measured}/${failovers} measured failovers (after ${warmed} to warm up), RSS ${(samples.at(-1)!.rssBytes / 1048576).toFixed(1)} MB, ${held} events held`);
      }
    }
    await daemon.stop();
    const result: SoakResult = { followed, failovers, samples, rssGrowthBytes: rssGrowth(samples) };
    writeResult('soak', { mode: 'reload', warmupFailovers: warmed, eventRing: EVENT_RING, sampleEvery, unit: 'bytes', ...result });
    return result;
  } finally {
    await cleanup.run();
  }
}
