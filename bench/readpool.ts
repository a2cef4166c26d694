/**
 * BENCH_ONLY=readpool (issue 21): how long after a replica's `+sdown` new connections through the
 * read port stop being sent to it, in runtime-API mode and in reload mode. Ours only: the original
 * has no read endpoint.
 *
 * Fixture: 1 master + 2 replicas, 3 sentinels (down-after-milliseconds 1000), and two routes
 * watching the same sentinels, each with its own HAProxy (master-worker) running the SHIPPED
 * runtime template (examples/haproxy/haproxy_template_runtime.cfg, global section swapped for a
 * loopback admin socket) rendered by its own daemon (production watcher timings) with an
 * ExternalReadPort: one daemon in runtime-API mode, one in reload mode.
 *
 * Per round (the two replicas are killed in turn): both read ports serve both replicas; a prober
 * per route opens a NEW connection through its read port every 1–2 ms and sends `INFO server`
 * (tcp_port names the replica that answered); `kill -9` of the replica (t_kill); the bench's own
 * subscriber to `+sdown` on all 3 sentinels takes the first one naming that replica as t0. With
 * the replica dead, a connection HAProxy sends to its slot fails (refused behind HAProxy: the
 * client sees the connection closed without a reply) instead of landing, so every probe started
 * after t_kill that gets no `INFO` reply counts as one sent to the dead slot. t_clear is the start
 * of the first probe after the last such failure; the window ends once probes have succeeded on
 * the live replica without a break for QUIET_MS (and at least 1 s after t0), so t_clear is followed
 * by an unbroken run of successful connections to the window's end. Sample: t_clear − t0 (negative
 * when the slot was already empty at +sdown: the daemon also sees the replica vanish from the
 * master's ROLE). Then the replica is started again, and the round ends once both daemons' API
 * show it serving and both read ports reach it again. Reloads: lines of each route's reload log.
 * BENCH_ONLY=readpool-sigstop: the same with SIGSTOP/SIGCONT instead of kill -9/restart, which
 * only Sentinel detects (the +sdown path alone). Results: bench/results/readpool(-sigstop).json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Cleanup, freePort, haproxyCli, routedTo, startCluster, waitFor, type ClusterFixture, type RedisNode } from '../test/harness/index.js';
import { prepareHaproxy, type HaproxySetup } from '../test/support/haproxy-setup.js';
import { parseServersState } from '../src/outputs/haproxy/runtime.js';
import { daemonSpecs, percentiles, startDaemon, writeResult } from './lib.js';
import type { TableRow } from './outage.js';

const NAME = 'testing';
const DOWN_AFTER_MS = 1000;
/** A probe that has no INFO reply after this long is a failure (HAProxy may retry a refused server). */
const ATTEMPT_TIMEOUT_MS = 1000;
/** A window ends once no probe has failed for this long (all probes in it settled). */
const QUIET_MS = 1500;
/** A round whose dead slot still takes connections this long after +sdown is "not cleared". */
const GIVE_UP_MS = 20000;
const SHIPPED = new URL('../examples/haproxy/haproxy_template_runtime.cfg', import.meta.url);
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const round1 = (n: number) => Math.round(n * 10) / 10;

type Mode = 'runtime' | 'reload';
/**
 * kill: `kill -9` (the master drops the replica's link at once, so the daemon may see it leave
 * the master's ROLE before Sentinel's +sdown). sigstop: SIGSTOP, the process keeps its sockets
 * (the master still lists it as connected, connections to it hang): only Sentinel sees it down,
 * so this isolates the +sdown path. Back: restart (kill) or SIGCONT (sigstop).
 */
export type Fault = 'kill' | 'sigstop';

interface Route {
  mode: Mode;
  label: string;
  setup: HaproxySetup;
  readPort: number;
  api: string;
}

/** One new connection through the read port. */
interface Probe {
  t: number;
  settled: boolean;
  durationMs: number;
  /** tcp_port of the node that answered INFO server. */
  port?: number;
  error?: string;
}

/** The shipped runtime template, with only the root-only global lines swapped for a loopback admin socket. */
function shippedTemplate(adminSocket: string): string {
  const text = readFileSync(SHIPPED, 'utf8');
  const body = text.slice(text.indexOf('defaults'));
  return `global\n stats socket ${adminSocket} level admin\n hard-stop-after 5s\n\n${body.replaceAll('bind *:', 'bind 127.0.0.1:')}`;
}

const INFO_SERVER = '*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n';

/** A new TCP connection to `port`, `INFO server`, closed after the reply (or ATTEMPT_TIMEOUT_MS). */
function probe(port: number, p: Probe): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    const socket = net.connect(port, '127.0.0.1');
    const finish = (error?: string) => {
      if (p.settled) return;
      p.settled = true;
      p.durationMs = performance.now() - p.t;
      if (error) p.error = error;
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(() => finish('timeout'), ATTEMPT_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(INFO_SERVER));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.startsWith('-')) return finish(buf.split('\r\n')[0]);
      const eol = buf.indexOf('\r\n');
      if (eol < 0 || buf.length < eol + 2 + Number(buf.slice(1, eol))) return;
      const m = /^tcp_port:(\d+)/m.exec(buf);
      if (m) p.port = Number(m[1]);
      finish(m ? undefined : 'no tcp_port');
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('close', () => finish('closed without a reply'));
  });
}

/** A new probe every 1–2 ms (a 1 ms timer, not waiting for the previous probe) until stop(). */
function startProber(port: number): { probes: Probe[]; stop(): Promise<void> } {
  const probes: Probe[] = [];
  const pending: Array<Promise<void>> = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped) return;
    const p: Probe = { t: performance.now(), settled: false, durationMs: NaN };
    probes.push(p);
    pending.push(probe(port, p));
    timer = setTimeout(tick, 1);
  };
  tick();
  return {
    probes,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(pending);
    },
  };
}

interface Analysis {
  /** Start of the first probe after the last one that failed (t_kill when none failed), null when the last probe failed. */
  tClear: number | null;
  failedAfterKill: number;
  failedBeforeKill: number;
  failureKinds: Record<string, number>;
  failedProbeDurationP50Ms: number | null;
  landedOnMaster: number;
  landedOnKilled: number;
  /** Successful probes from t_clear to the end of the window, none failed in between. */
  successesAfterClear: number;
  probes: number;
  probeGapMeanMs: number;
  probeGapP95Ms: number;
}

function analyse(probes: Probe[], tKill: number, killedPort: number, masterPort: number): Analysis {
  const before = probes.filter((p) => p.t < tKill);
  const after = probes.filter((p) => p.t >= tKill);
  const failed = after.filter((p) => p.error !== undefined);
  const last = failed.at(-1);
  const lastIndex = last ? probes.indexOf(last) : -1;
  const tail = last ? probes.slice(lastIndex + 1) : after;
  const tClear = last ? (tail[0]?.t ?? null) : tKill;
  const kinds: Record<string, number> = {};
  for (const p of failed) kinds[p.error!] = (kinds[p.error!] ?? 0) + 1;
  const gaps = probes.slice(1).map((p, i) => p.t - probes[i]!.t);
  return {
    tClear,
    failedAfterKill: failed.length,
    failedBeforeKill: before.filter((p) => p.error !== undefined).length,
    failureKinds: kinds,
    failedProbeDurationP50Ms: failed.length ? round1(percentiles(failed.map((p) => p.durationMs)).p50) : null,
    landedOnMaster: probes.filter((p) => p.port === masterPort).length,
    landedOnKilled: after.filter((p) => p.port === killedPort).length,
    successesAfterClear: tail.length,
    probes: probes.length,
    probeGapMeanMs: round1(gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length) * 100) / 100,
    probeGapP95Ms: round1(percentiles(gaps).p95),
  };
}

/** The window can end: every probe of the last QUIET_MS (all settled) succeeded, and t0 is at least 1 s behind. */
function quiet(probes: Probe[], tKill: number, t0: number): boolean {
  const settledUpTo = performance.now() - ATTEMPT_TIMEOUT_MS - 100;
  if (settledUpTo < t0 + 1000) return false;
  let lastFail = tKill;
  for (const p of probes) {
    if (p.t > settledUpTo) break;
    if (p.t >= tKill && p.error !== undefined) lastFail = p.t;
  }
  return settledUpTo - lastFail >= QUIET_MS;
}

interface PoolEntry {
  port: number;
  state: string;
  reason: string | null;
}

async function poolOf(route: Route): Promise<PoolEntry[] | null> {
  try {
    const clusters = (await (await fetch(`${route.api}/api/topology`, { signal: AbortSignal.timeout(2000) })).json()) as Array<{ name: string; readPool?: { replicas: PoolEntry[] } }>;
    return clusters.find((c) => c.name === NAME)?.readPool?.replicas ?? null;
  } catch {
    return null;
  }
}

/** Both replicas serving in the daemon's API, and `n` new connections through the read port reach exactly both. */
async function bothServe(route: Route, replicas: number[], n = 8): Promise<boolean> {
  const pool = await poolOf(route);
  if (!pool || !replicas.every((port) => pool.find((r) => r.port === port)?.state === 'serving')) return false;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const port = await routedTo(route.readPort).catch(() => 0);
    if (!replicas.includes(port)) return false;
    seen.add(port);
  }
  return seen.size === replicas.length;
}

const stampLog = (setup: HaproxySetup) => join(setup.dir, 'reload-stamps.log');
/** Start times of the reload commands, on this process's performance.now() clock. */
const reloadStamps = (setup: HaproxySetup): number[] =>
  existsSync(stampLog(setup)) ? readFileSync(stampLog(setup), 'utf8').split('\n').filter(Boolean).map((l) => Number(BigInt(l) / 1000n) / 1000 - performance.timeOrigin) : [];

const reloadLines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** Read slots HAProxy would send new connections to (running, no maintenance), by port. */
async function readyReadSlots(setup: HaproxySetup): Promise<number[]> {
  const states = parseServersState(await haproxyCli(setup.adminSocket, `show servers state bk_${NAME}_read`));
  // As the integration test reads it: the config's "disabled" bit (0x04) stays set after "state ready" (HAProxy 2.6).
  return states.filter((st) => !st.server.endsWith('_master') && st.opState === 2 && (st.adminState & 0x63) === 0).map((st) => st.port);
}

async function startRoute(cleanup: Cleanup, cluster: ClusterFixture, mode: Mode): Promise<Route> {
  const runtime = mode === 'runtime';
  // Production watcher timings (no Watcher section), as in the other scenarios.
  const setup = await prepareHaproxy(cleanup, cluster, { runtime, template: shippedTemplate('ADMIN_SOCKET'), extra: { Watcher: {} } });
  writeFileSync(setup.templatePath, readFileSync(setup.templatePath, 'utf8').replace('ADMIN_SOCKET', setup.adminSocket));
  const readPort = await freePort();
  const config = JSON.parse(readFileSync(setup.configPath, 'utf8')) as { Clusters: Array<Record<string, unknown>>; HAProxy: Record<string, unknown> };
  config.Clusters[0] = { ...config.Clusters[0], ExternalReadPort: readPort };
  // As the integration test: SIGUSR2 returns before HAProxy has reloaded, and a second one during
  // that reload can be lost; wait for the new worker, as a systemd reload does.
  // The command first appends the wall-clock time it started (as in the propagation scenario), so
  // reload mode splits into "+sdown → reload command runs" and "reload command → clean".
  config.HAProxy.ReloadCommand = `date +%s%N >> ${stampLog(setup)} && ${String(config.HAProxy.ReloadCommand)} && sleep 0.5`;
  writeFileSync(setup.configPath, JSON.stringify(config));
  startDaemon(cleanup, daemonSpecs()[0]!, setup.configPath, `127.0.0.1:${setup.apiPort}`);
  return { mode, label: runtime ? 'runtime API' : 'reload', setup, readPort, api: `http://127.0.0.1:${setup.apiPort}` };
}

interface RouteRound {
  sdownToClearMs: number | null;
  killToClearMs: number | null;
  /** When the daemon's /api/topology first showed the killed replica out (polled every 20 ms), and why. */
  apiOutAfterKillMs: number | null;
  apiOutReason: string | null;
  /** The killed replica's slot still ready in HAProxy at the end of the window. */
  killedSlotReadyAtEnd: boolean;
  reloadsUntilWindowEnd: number;
  reloadsRejoin: number;
  /** Reload mode: +sdown → the first reload command after the fault starts, and that start → t_clear. */
  sdownToReloadCommandMs: number | null;
  reloadCommandToClearMs: number | null;
  analysis: Omit<Analysis, 'tClear'>;
}

interface RoundResult {
  round: number;
  killedPort: number;
  killToSdownMs: number;
  /** Which sentinel's +sdown came first (port). */
  sdownFrom: number;
  windowAfterSdownMs: number;
  rejoinAfterRestartMs: number;
  routes: Record<Mode, RouteRound>;
}

async function runRound(n: number, fault: Fault, cluster: ClusterFixture, routes: Route[], sdowns: Array<{ at: number; port: number; sentinel: number }>): Promise<RoundResult> {
  const master = cluster.masters.get(NAME)!;
  const replicas = cluster.replicas.get(NAME)!;
  const victim: RedisNode = replicas[(n - 1) % replicas.length]!;
  const replicaPorts = replicas.map((r) => r.port);
  await cluster.waitForSentinelsDiscovered(60000);
  for (const route of routes) await waitFor(() => bothServe(route, replicaPorts), { timeoutMs: 60000, intervalMs: 200, what: `${route.label}: both replicas serve reads` });
  await sleep(500); // settle: a reload the last rejoin asked for is over

  const reloads0 = routes.map((r) => reloadLines(r.setup.reloadLog));
  const probers = routes.map((r) => startProber(r.readPort));
  const apiOut: Array<{ at: number; reason: string | null } | null> = routes.map(() => null);
  let watching = true;
  let stopped = false;
  try {
    await sleep(300);
    const from = sdowns.length;
    const tKill = performance.now();
    if (fault === 'kill') await victim.kill('SIGKILL');
    else victim.pause();
    const apiWatch = (async () => {
      while (watching) {
        await Promise.all(
          routes.map(async (route, i) => {
            if (apiOut[i]) return;
            const entry = (await poolOf(route))?.find((r) => r.port === victim.port);
            if (entry && entry.state !== 'serving') apiOut[i] = { at: performance.now(), reason: entry.reason };
          }),
        );
        await sleep(20);
      }
    })();
    const first = await waitFor(() => sdowns.slice(from).find((m) => m.port === victim.port && m.at >= tKill), { timeoutMs: 30000, intervalMs: 1, what: `+sdown of redis:${victim.port}` });
    const t0 = first.at;
    await waitFor(() => probers.every((p) => quiet(p.probes, tKill, t0)) || performance.now() > t0 + GIVE_UP_MS, { timeoutMs: GIVE_UP_MS + 5000, intervalMs: 20, what: 'read ports to stop failing' });
    const tEnd = performance.now();
    await Promise.all(probers.map((p) => p.stop()));
    stopped = true;
    watching = false;
    await apiWatch;
    const slotsAtEnd = await Promise.all(routes.map((r) => readyReadSlots(r.setup).catch(() => [] as number[])));
    const reloads1 = routes.map((r) => reloadLines(r.setup.reloadLog));

    // Back: the replica starts again, resyncs, and rejoins both pools.
    const tRestart = performance.now();
    if (fault === 'kill') await victim.restart();
    else victim.resume();
    for (const route of routes) await waitFor(() => bothServe(route, replicaPorts), { timeoutMs: 60000, intervalMs: 100, what: `${route.label}: redis:${victim.port} back in the read pool` });
    const tBack = performance.now();
    const reloads2 = routes.map((r) => reloadLines(r.setup.reloadLog));

    const per = routes.map((route, i): [Mode, RouteRound] => {
      const { tClear, ...analysis } = analyse(probers[i]!.probes, tKill, victim.port, master.port);
      const reloadAt = reloadStamps(route.setup).find((t) => t >= tKill - 2 && t <= tEnd);
      return [
        route.mode,
        {
          sdownToClearMs: tClear === null ? null : round1(tClear - t0),
          killToClearMs: tClear === null ? null : round1(tClear - tKill),
          apiOutAfterKillMs: apiOut[i] ? round1(apiOut[i]!.at - tKill) : null,
          apiOutReason: apiOut[i]?.reason ?? null,
          killedSlotReadyAtEnd: slotsAtEnd[i]!.includes(victim.port),
          reloadsUntilWindowEnd: reloads1[i]! - reloads0[i]!,
          reloadsRejoin: reloads2[i]! - reloads1[i]!,
          sdownToReloadCommandMs: reloadAt === undefined ? null : round1(reloadAt - t0),
          reloadCommandToClearMs: reloadAt === undefined || tClear === null ? null : round1(tClear - reloadAt),
          analysis,
        },
      ];
    });
    return {
      round: n,
      killedPort: victim.port,
      killToSdownMs: round1(t0 - tKill),
      sdownFrom: first.sentinel,
      windowAfterSdownMs: round1(tEnd - t0),
      rejoinAfterRestartMs: round1(tBack - tRestart),
      routes: Object.fromEntries(per) as Record<Mode, RouteRound>,
    };
  } finally {
    watching = false;
    if (!stopped) await Promise.all(probers.map((p) => p.stop()));
  }
}

export async function readpool(rounds: number, rows: TableRow[], fault: Fault = 'kill'): Promise<void> {
  const cleanup = new Cleanup();
  const results: RoundResult[] = [];
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const started = new Date().toISOString();
  let failure: string | undefined;
  console.error('bench: readpool: ours only (the original has no read endpoint)');
  try {
    const cluster = await startCluster(cleanup, { names: [NAME], replicas: 2, sentinels: 3, downAfterMs: DOWN_AFTER_MS });
    const sdowns: Array<{ at: number; port: number; sentinel: number }> = [];
    for (const s of cluster.sentinels) {
      const sub = s.client();
      cleanup.add(() => sub.disconnect());
      // "slave <name> <ip> <port> @ <master-name> <master-ip> <master-port>"
      sub.on('message', (_c: string, m: string) => {
        const f = m.split(' ');
        if (f[0] === 'slave') sdowns.push({ at: performance.now(), port: Number(f[3]), sentinel: s.port });
      });
      await sub.subscribe('+sdown');
    }
    const routes = [await startRoute(cleanup, cluster, 'runtime'), await startRoute(cleanup, cluster, 'reload')];
    for (let n = 1; n <= rounds; n++) {
      const r = await runRound(n, fault, cluster, routes, sdowns);
      results.push(r);
      const line = routes.map((route) => {
        const x = r.routes[route.mode];
        return `${route.mode} ${x.sdownToClearMs ?? 'not cleared'} ms after +sdown (API out +${x.apiOutAfterKillMs} ms ${x.apiOutReason}), ${x.analysis.failedAfterKill} failed, ${x.reloadsUntilWindowEnd}+${x.reloadsRejoin} reloads`;
      });
      console.error(`bench: readpool (${fault}) round ${n}: ${fault === 'kill' ? 'killed' : 'stopped'} redis:${r.killedPort}, +sdown +${r.killToSdownMs} ms; ${line.join('; ')}`);
    }
  } catch (err) {
    failure = (err as Error).message;
    throw err;
  } finally {
    await cleanup.run();
    if (results.length > 0) report(results, rounds, rows, { fault, loadAtStart, started, failure });
  }
}

function report(results: RoundResult[], rounds: number, rows: TableRow[], run: { fault: Fault; loadAtStart: string; started: string; failure: string | undefined }): void {
  const ms = (n: number) => (Math.abs(n) >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);
  const modes: Mode[] = ['runtime', 'reload'];
  const summarise = (mode: Mode) => {
    const per = results.map((r) => r.routes[mode]);
    const nums = (f: (x: RouteRound) => number | null) => per.map(f).filter((x): x is number => x !== null);
    return {
      sdownToClearMs: percentiles(nums((x) => x.sdownToClearMs)),
      killToClearMs: percentiles(nums((x) => x.killToClearMs)),
      apiOutAfterKillMs: percentiles(nums((x) => x.apiOutAfterKillMs)),
      apiOutReasons: per.map((x) => x.apiOutReason),
      sdownToReloadCommandMs: percentiles(nums((x) => x.sdownToReloadCommandMs)),
      reloadCommandToClearMs: percentiles(nums((x) => x.reloadCommandToClearMs)),
      roundsNotCleared: per.filter((x) => x.sdownToClearMs === null).length,
      roundsWithKilledSlotReadyAtEnd: per.filter((x) => x.killedSlotReadyAtEnd).length,
      failedConnectionsPerRound: per.map((x) => x.analysis.failedAfterKill),
      reloadsUntilWindowEnd: per.reduce((a, x) => a + x.reloadsUntilWindowEnd, 0),
      reloadsRejoin: per.reduce((a, x) => a + x.reloadsRejoin, 0),
    };
  };
  const summary = { runtime: summarise('runtime'), reload: summarise('reload') };
  const killToSdown = percentiles(results.map((r) => r.killToSdownMs));
  writeResult(run.fault === 'kill' ? 'readpool' : 'readpool-sigstop', {
    note: 'ours only: the original has no read endpoint',
    fault: run.fault === 'kill' ? 'kill -9 of a replica, started again after the window' : 'SIGSTOP of a replica (sockets kept open: only Sentinel sees it down), SIGCONT after the window',
    roundsAsked: rounds,
    roundsDone: results.length,
    ...(run.failure ? { failure: run.failure } : {}),
    started: run.started,
    loadAverageAtStart: run.loadAtStart,
    unit: 'ms',
    setup: {
      redis: '1 master + 2 replicas (save "")',
      sentinels: 3,
      quorum: 2,
      downAfterMilliseconds: DOWN_AFTER_MS,
      template: 'examples/haproxy/haproxy_template_runtime.cfg (global section: loopback admin socket, hard-stop-after 5s), HAProxy master-worker, one per route',
      watcher: 'production defaults (ROLE on the master every 1 s, discovery every 10 s)',
      reloadCommand: 'date +%s%N >> reload-stamps.log && echo reload >> reloads.log && kill -USR2 <haproxy master> && sleep 0.5',
      routes: { runtime: 'ours, RuntimeSocket set (pool changes through the runtime API)', reload: 'ours, no RuntimeSocket (pool changes re-render and reload)' },
      prober: `a new connection per route every 1–2 ms (1 ms timer), INFO server, ${ATTEMPT_TIMEOUT_MS} ms bound per probe`,
      measured:
        't0 = first +sdown naming the killed replica on any of the 3 sentinels (the bench subscribes itself); t_clear = start of the first probe after the last probe started after the kill that failed (no INFO reply: sent to the dead slot); the window ends once every probe of the last ' +
        `${QUIET_MS} ms succeeded and t0 is at least 1 s behind. sdownToClearMs = t_clear − t0 (negative: the slot was empty before +sdown); killToClearMs = t_clear − t_kill.`,
    },
    summary: { killToSdownMs: killToSdown, ...summary },
    rounds: results,
  });
  const n = results.length;
  rows.push({ what: `read pool, ${n} replica ${run.fault === 'kill' ? 'kills (kill -9)' : 'pauses (SIGSTOP)'}, ours only (the original has no read endpoint); kill → +sdown p50 ${ms(killToSdown.p50)}:`, ours: '', baseline: '', ratio: '', target: '', result: '' });
  rows.push({ what: '  mode: +sdown → read port clean p50 / p95 / max · kill → clean p50 · reloads (removal + rejoin)', ours: '', baseline: '', ratio: '', target: '', result: '' });
  for (const mode of modes) {
    const s = summary[mode];
    const v = s.sdownToClearMs;
    const values = `${v.n ? `${ms(v.p50)} / ${ms(v.p95)} / ${ms(v.max)}` : 'never'} · ${s.killToClearMs.n ? ms(s.killToClearMs.p50) : '–'} · ${s.reloadsUntilWindowEnd} + ${s.reloadsRejoin}${s.roundsNotCleared ? ` · ${s.roundsNotCleared} not cleared` : ''}`;
    const ok = s.roundsNotCleared === 0 && s.roundsWithKilledSlotReadyAtEnd === 0 && v.n > 0 && v.max <= 2000 && (mode === 'reload' || s.reloadsUntilWindowEnd + s.reloadsRejoin === 0);
    rows.push({ what: `  ${mode === 'runtime' ? 'runtime API' : 'reload'}`, ours: values, baseline: '', ratio: '', target: mode === 'runtime' ? '≤ 2 s after +sdown, 0 reloads' : '≤ 2 s after +sdown', result: ok ? 'met' : 'MISSED' });
    if (mode === 'reload' && s.sdownToReloadCommandMs.n) rows.push({ what: '    p50: +sdown → reload command runs · reload command → clean', ours: `${ms(s.sdownToReloadCommandMs.p50)} · ${s.reloadCommandToClearMs.n ? ms(s.reloadCommandToClearMs.p50) : '–'}`, baseline: '', ratio: '', target: '', result: '' });
  }
}
