/**
 * BENCH_ONLY=outage (issue 22, item 4): what a client sees when the master crashes, through real
 * HAProxy instances on loopback, every route measured on the SAME failovers:
 *
 * - ours, runtime-API mode (its own HAProxy with a runtime socket) and ours, reload mode (its own
 *   HAProxy, no runtime socket), each with its own daemon watching the same sentinels;
 * - the BENCH_BASELINE_CMD daemon (e.g. the original) with its own HAProxy, reload mode (skipped
 *   when the variable is unset);
 * - plain HAProxy, no daemon: both servers in one backend with the health check HAProxy's blog
 *   and most charts give (`tcp-check` … `expect string role:master`, `check inter 1s`).
 *
 * Per round (1 master, 1 replica, 3 sentinels, down-after-milliseconds 1000): a writer per route
 * opens a NEW connection every 10 ms and pipelines `INFO server` + `SET` (run_id / tcp_port name
 * the node that acknowledged); the master gets SIGKILL (t_kill); the replica's `ROLE` is polled
 * and `+switch-master` is read on every sentinel; as soon as the switch is seen the old master is
 * started again on its port with its own data dir and config, as a stand-alone master (as after
 * a crash and a restart; Sentinel converts it into a replica some seconds later); the writers go
 * on for 6 s after the switch. Per route: outage (t_kill → first write acknowledged by the new
 * master), the same from the first `+switch-master`, and the writes acknowledged by the restarted
 * old master (lost when Sentinel converts it). The next round fails over the other way.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, routedTo, startCluster, startHaproxy, waitFor, type ClusterFixture, type RedisNode } from '../test/harness/index.js';
import { prepareHaproxy } from '../test/support/haproxy-setup.js';
import { daemonSpecs, percentiles, startDaemon, writeResult, type DaemonSpec } from './lib.js';

/** The shape of bench/run.ts's table rows. */
export interface TableRow {
  what: string;
  ours: string;
  baseline: string;
  ratio: string;
  target: string;
  result: string;
}

const NAME = 'testing';
const DOWN_AFTER_MS = 1000;
/** BENCH_OUTAGE_WRITE_EVERY_MS: the writer's period (10 ms: the issue's setting; 1 ms shows what the 10 ms grid costs the figure). */
const WRITE_EVERY_MS = Number(process.env.BENCH_OUTAGE_WRITE_EVERY_MS ?? 10) || 10;
/** BENCH_OUTAGE_ROUTES: a comma list of route keys to measure (default all), to iterate on one route with less load. */
const ROUTE_FILTER = process.env.BENCH_OUTAGE_ROUTES ? new Set(process.env.BENCH_OUTAGE_ROUTES.split(',').map((s) => s.trim())) : null;
const ATTEMPT_TIMEOUT_MS = 1000;
const WRITE_AFTER_SWITCH_MS = 6000;
/** A writer stops by itself after this long, whatever happens to the round. */
const WRITER_MAX_MS = 60000;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const round1 = (n: number) => Math.round(n * 10) / 10;

interface Route {
  key: 'ours-runtime' | 'ours-reload' | 'baseline-reload' | 'haproxy-checks';
  label: string;
  port: number;
}

/** One new connection through a route: which node answered INFO, and whether it acknowledged the SET. */
interface Attempt {
  t0: number;
  tEnd: number;
  port?: number;
  runId?: string;
  ack: boolean;
  error?: string;
}

type Reply = { value: string | Error; next: number } | null;

/** One RESP reply at `pos` of `buf` (simple string, error, integer or bulk string), null while incomplete. */
function parseReply(buf: Buffer, pos: number): Reply {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString('latin1', pos + 1, eol);
  if (type === '+' || type === ':') return { value: line, next: eol + 2 };
  if (type === '-') return { value: new Error(line), next: eol + 2 };
  if (type === '$') {
    const len = Number(line);
    if (len < 0) return { value: '', next: eol + 2 };
    if (buf.length < eol + 2 + len + 2) return null;
    return { value: buf.toString('latin1', eol + 2, eol + 2 + len), next: eol + 2 + len + 2 };
  }
  return { value: new Error(`unexpected reply type ${type}`), next: buf.length };
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

/** A new TCP connection to `port`, `INFO server` and `SET key value` in one write, closed after both replies (or ATTEMPT_TIMEOUT_MS). */
function attempt(port: number, key: string): Promise<Attempt> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const result: Attempt = { t0, tEnd: t0, ack: false };
    let buf = Buffer.alloc(0);
    let done = false;
    const socket = net.connect(port, '127.0.0.1');
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      result.tEnd = performance.now();
      if (error && !result.ack) result.error = error;
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('timeout'), ATTEMPT_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(`*2\r\n${bulk('INFO')}${bulk('server')}*3\r\n${bulk('SET')}${bulk(key)}${bulk(String(Date.now()))}`));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const first = parseReply(buf, 0);
      if (!first) return;
      const second = parseReply(buf, first.next);
      if (!second) return;
      if (typeof first.value === 'string') {
        result.port = Number(/^tcp_port:(\d+)/m.exec(first.value)?.[1]) || undefined;
        result.runId = /^run_id:(\w+)/m.exec(first.value)?.[1];
      }
      if (second.value === 'OK') {
        result.ack = true;
        finish();
      } else finish(second.value instanceof Error ? second.value.message.split(' ')[0] : 'unexpected SET reply');
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('close', () => finish('closed'));
  });
}

/** A new connection every WRITE_EVERY_MS (not waiting for the previous one) until stop() or WRITER_MAX_MS. */
function startWriter(route: Route, roundNo: number): { stop(): Promise<Attempt[]> } {
  const pending: Array<Promise<Attempt>> = [];
  const start = performance.now();
  let seq = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped || performance.now() - start > WRITER_MAX_MS) return;
    pending.push(attempt(route.port, `outage:${route.key}:${roundNo}:${seq}`));
    seq++;
    timer = setTimeout(tick, Math.max(0, start + seq * WRITE_EVERY_MS - performance.now()));
  };
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      return Promise.all(pending);
    },
  };
}

async function infoField(node: RedisNode, section: string, key: string): Promise<string | undefined> {
  const c = node.client();
  try {
    return new RegExp(`^${key}:(.*?)\\r?$`, 'm').exec(await c.info(section))?.[1];
  } finally {
    c.disconnect();
  }
}

/** The master once every sentinel names the same one at the same epoch. */
async function agreedMaster(cluster: ClusterFixture): Promise<number> {
  return waitFor(
    async () => {
      const views = await Promise.all(cluster.sentinels.map((s) => cluster.sentinelMaster(NAME, s).catch(() => null)));
      const first = views[0];
      return first && views.every((v) => v && v.port === first.port && v.configEpoch === first.configEpoch) ? first.port : null;
    },
    { timeoutMs: 60000, intervalMs: 100, what: `sentinels to agree on ${NAME}'s master` },
  );
}

/** `n` new connections in a row reach `target` (the plain-HAProxy route balances over two servers). */
async function landsOn(port: number, target: number, n = 8): Promise<boolean> {
  for (let i = 0; i < n; i++) if ((await routedTo(port).catch(() => 0)) !== target) return false;
  return true;
}

/** HAProxy alone: both nodes in one backend, the master found by the usual health check. */
async function plainHaproxy(cleanup: Cleanup, cluster: ClusterFixture): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'rh-bench-outage-'));
  const port = await freePort();
  const nodes = [cluster.masters.get(NAME)!, ...cluster.replicas.get(NAME)!];
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(
    configPath,
    `global
 stats socket ${join(dir, 'admin.sock')} level admin

defaults
 mode tcp
 timeout client 60s
 timeout connect 1s
 timeout server 60s

frontend ft_redis
 bind 127.0.0.1:${port}
 default_backend bk_redis

backend bk_redis
 option tcp-check
 tcp-check connect
 tcp-check send PING\\r\\n
 tcp-check expect string +PONG
 tcp-check send info\\ replication\\r\\n
 tcp-check expect string role:master
 tcp-check send QUIT\\r\\n
 tcp-check expect string +OK
${nodes.map((n, i) => ` server R${i + 1} ${n.host}:${n.port} check inter 1s`).join('\n')}
`,
  );
  await startHaproxy(cleanup, { configPath, masterWorker: true });
  return port;
}

async function daemonRoute(cleanup: Cleanup, cluster: ClusterFixture, spec: DaemonSpec, runtime: boolean): Promise<number> {
  // Production watcher timings (no Watcher section), as in the other scenarios.
  const setup = await prepareHaproxy(cleanup, cluster, { runtime, extra: { Watcher: {} } });
  startDaemon(cleanup, spec, setup.configPath, `127.0.0.1:${setup.apiPort}`);
  return setup.externalPorts.get(NAME)!;
}

interface RouteRound {
  outageMs: number | null;
  afterSwitchMs: number | null;
  /**
   * Where the writer's grid puts the route's switch, ms after the first +switch-master: the start
   * of the first attempt the new master acknowledged, and of the last attempt started before it
   * that failed (the switch happened between the two, give or take HAProxy's own retries).
   */
  firstAckStartedMs: number | null;
  lastFailStartedMs: number | null;
  acksByRestartedOldMaster: number;
  /**
   * Acks by the restarted node after a second failover made it the master again (Sentinel's own
   * choice, at a higher epoch, named by a quorum): writes to the real master, not counted above.
   */
  acksByRestartedNodeAsSentinelsMaster: number;
  firstAckByRestartedOldMasterMs: number | null;
  acksByNewMaster: number;
  attempts: number;
  failures: Record<string, number>;
}

interface RoundResult {
  round: number;
  killedPort: number;
  promotedPort: number;
  /** All times in ms after t_kill. */
  replicaRoleMasterMs: number | null;
  firstSwitchMs: number;
  /** Each sentinel's +switch-master to the promoted node, in arrival order (the bench's subscribers). */
  switchBySentinelMs: Array<{ sentinel: string; ms: number }>;
  /** t_kill as wall-clock ms since the epoch, to line the round up with the daemons' logs. */
  killEpochMs: number;
  oldMasterRestartedMs: number;
  oldMasterReadyMs: number;
  oldMasterRoleAfterRestart: string | undefined;
  /** +switch-master messages within the window naming another master than the first one (a second failover). */
  laterSwitchPorts: number[];
  routes: Record<string, RouteRound>;
}

function analyse(attempts: Attempt[], r: { tKill: number; tSwitch: number; newPort: number; newRunId?: string; oldPort: number; restartedRunId?: string; tRestart: number; tOldNamedAgain?: number }): RouteRound {
  const acks = attempts.filter((a) => a.ack);
  const byNew = acks.filter((a) => (r.newRunId ? a.runId === r.newRunId : a.port === r.newPort));
  // The killed process cannot answer after t_kill: an ack from its port since the restart is the new process.
  const byRestarted = acks.filter((a) => (r.restartedRunId ? a.runId === r.restartedRunId : a.port === r.oldPort && a.t0 >= r.tRestart));
  // Once the first sentinel announces a second failover back to it, the restarted node is the master Sentinel names.
  const byOld = byRestarted.filter((a) => r.tOldNamedAgain === undefined || a.tEnd < r.tOldNamedAgain);
  const first = byNew.length ? Math.min(...byNew.map((a) => a.tEnd)) : null;
  const firstAck = byNew.find((a) => a.tEnd === first);
  const failedBefore = firstAck ? attempts.filter((a) => !a.ack && a.t0 < firstAck.t0 && a.t0 >= r.tSwitch - 1000) : [];
  const failures: Record<string, number> = {};
  for (const a of attempts) if (!a.ack) failures[a.error ?? 'unknown'] = (failures[a.error ?? 'unknown'] ?? 0) + 1;
  return {
    outageMs: first === null ? null : round1(first - r.tKill),
    afterSwitchMs: first === null ? null : round1(first - r.tSwitch),
    firstAckStartedMs: firstAck ? round1(firstAck.t0 - r.tSwitch) : null,
    lastFailStartedMs: failedBefore.length ? round1(Math.max(...failedBefore.map((a) => a.t0)) - r.tSwitch) : null,
    acksByRestartedOldMaster: byOld.length,
    acksByRestartedNodeAsSentinelsMaster: byRestarted.length - byOld.length,
    firstAckByRestartedOldMasterMs: byOld.length ? round1(Math.min(...byOld.map((a) => a.tEnd)) - r.tKill) : null,
    acksByNewMaster: byNew.length,
    attempts: attempts.length,
    failures,
  };
}

async function pollRoleMaster(node: RedisNode, until: number): Promise<number | null> {
  // Sentinel's promotion ends with CLIENT KILL TYPE normal on the replica: a client that failed is replaced.
  let c = node.client();
  try {
    while (performance.now() < until) {
      const role = (await c.call('ROLE').catch(() => null)) as unknown[] | null;
      if (role && role[0] === 'master') return performance.now();
      if (!role) {
        c.disconnect();
        c = node.client();
      }
      await sleep(5);
    }
    return null;
  } finally {
    c.disconnect();
  }
}

/** The node's config without `replicaof`: it restarts as the stand-alone master it was when it crashed. */
function asStandAloneMaster(node: RedisNode): void {
  const path = join(node.dir, 'redis.conf');
  writeFileSync(path, readFileSync(path, 'utf8').split('\n').filter((l) => !/^\s*(replicaof|slaveof)\s/i.test(l)).join('\n'));
}

async function runRound(cluster: ClusterFixture, routes: Route[], switches: Array<{ at: number; port: number; sentinel: string }>, n: number): Promise<RoundResult> {
  const nodes = [cluster.masters.get(NAME)!, ...cluster.replicas.get(NAME)!];
  const masterPort = await agreedMaster(cluster);
  const master = nodes.find((x) => x.port === masterPort)!;
  const replica = nodes.find((x) => x.port !== masterPort)!;
  // Ready for the next crash: the replica replicates the master, every sentinel sees it healthy,
  // every route sends new connections to the master.
  await waitFor(async () => (await infoField(replica, 'replication', 'master_link_status')) === 'up' && (await infoField(replica, 'replication', 'master_port')) === String(masterPort), {
    timeoutMs: 60000,
    intervalMs: 200,
    what: `redis:${replica.port} to replicate redis:${masterPort}`,
  });
  await cluster.waitForSentinelsDiscovered(60000);
  for (const route of routes) await waitFor(() => landsOn(route.port, masterPort), { timeoutMs: 60000, intervalMs: 200, what: `${route.label}: new connections reach the master redis:${masterPort}` });
  const newRunId = await infoField(replica, 'server', 'run_id');

  const writers = routes.map((route) => startWriter(route, n));
  let attempts: Attempt[][] = [];
  try {
    await sleep(500);
    const from = switches.length;
    const tKill = performance.now();
    const killed = master.kill('SIGKILL');
    const promoted = pollRoleMaster(replica, tKill + 30000);
    await killed;
    const first = await waitFor(() => switches.slice(from).find((m) => m.port === replica.port), { timeoutMs: 30000, intervalMs: 1, what: `+switch-master to redis:${replica.port}` });
    asStandAloneMaster(master);
    const tRestart = performance.now();
    await master.restart();
    const tReady = performance.now();
    const restartedRunId = await infoField(master, 'server', 'run_id');
    const roleAfter = await infoField(master, 'replication', 'role');
    await sleep(Math.max(0, first.at + WRITE_AFTER_SWITCH_MS - performance.now()));
    attempts = await Promise.all(writers.map((w) => w.stop()));
    const tPromoted = await promoted;
    const tOldNamedAgain = switches.slice(from).find((m) => m.port === master.port)?.at;
    const ctx = { tKill, tSwitch: first.at, newPort: replica.port, newRunId, oldPort: master.port, restartedRunId, tRestart, tOldNamedAgain };
    return {
      round: n,
      killedPort: master.port,
      promotedPort: replica.port,
      replicaRoleMasterMs: tPromoted === null ? null : round1(tPromoted - tKill),
      firstSwitchMs: round1(first.at - tKill),
      switchBySentinelMs: switches
        .slice(from)
        .filter((m) => m.port === replica.port)
        .map((m) => ({ sentinel: m.sentinel, ms: round1(m.at - tKill) })),
      killEpochMs: Math.round(performance.timeOrigin + tKill),
      oldMasterRestartedMs: round1(tRestart - tKill),
      oldMasterReadyMs: round1(tReady - tKill),
      oldMasterRoleAfterRestart: roleAfter,
      laterSwitchPorts: switches.slice(from).filter((m) => m.port !== replica.port).map((m) => m.port),
      routes: Object.fromEntries(routes.map((route, i) => [route.key, analyse(attempts[i] ?? [], ctx)])),
    };
  } finally {
    if (attempts.length === 0) await Promise.all(writers.map((w) => w.stop()));
  }
}

export async function outage(rounds: number, rows: TableRow[]): Promise<void> {
  const cleanup = new Cleanup();
  const results: RoundResult[] = [];
  const routes: Route[] = [];
  let failure: string | undefined;
  try {
    const specs = daemonSpecs();
    const ours = specs.find((s) => s.key === 'ours')!;
    const baseline = specs.find((s) => s.key === 'baseline');
    const cluster = await startCluster(cleanup, { names: [NAME], replicas: 1, sentinels: 3, downAfterMs: DOWN_AFTER_MS });
    const switches: Array<{ at: number; port: number; sentinel: string }> = [];
    for (const s of cluster.sentinels) {
      const sub = s.client();
      await sub.subscribe('+switch-master');
      sub.on('message', (_c: string, m: string) => switches.push({ at: performance.now(), port: Number(m.split(' ')[4]), sentinel: `${s.host}:${s.port}` }));
      cleanup.add(() => sub.disconnect());
    }
    // Started only when measured: a route left out adds no daemon, HAProxy or writer to the load.
    const wanted = (key: Route['key']) => !ROUTE_FILTER || ROUTE_FILTER.has(key);
    if (wanted('ours-runtime')) routes.push({ key: 'ours-runtime', label: 'ours, runtime API', port: await daemonRoute(cleanup, cluster, ours, true) });
    if (wanted('ours-reload')) routes.push({ key: 'ours-reload', label: 'ours, reload', port: await daemonRoute(cleanup, cluster, ours, false) });
    if (baseline && wanted('baseline-reload')) routes.push({ key: 'baseline-reload', label: 'baseline, reload', port: await daemonRoute(cleanup, cluster, baseline, false) });
    if (wanted('haproxy-checks')) routes.push({ key: 'haproxy-checks', label: 'plain HAProxy, tcp-check role:master', port: await plainHaproxy(cleanup, cluster) });
    for (let n = 1; n <= rounds; n++) {
      const r = await runRound(cluster, routes, switches, n);
      results.push(r);
      const line = routes.map((route) => `${route.key} ${r.routes[route.key]!.outageMs ?? '–'} ms/${r.routes[route.key]!.acksByRestartedOldMaster} lost`).join(', ');
      console.error(`bench: outage round ${n}: promoted +${r.replicaRoleMasterMs} ms, switch +${r.firstSwitchMs} ms; ${line}`);
    }
  } catch (err) {
    failure = (err as Error).message;
    throw err;
  } finally {
    await cleanup.run();
    if (results.length > 0) report(routes, results, rounds, rows, failure);
  }
}

function report(routes: Route[], results: RoundResult[], rounds: number, rows: TableRow[], failure: string | undefined): void {
  const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);
  const summary = Object.fromEntries(
    routes.map((route) => {
      const per = results.map((r) => r.routes[route.key]!);
      const outages = per.map((p) => p.outageMs).filter((x): x is number => x !== null);
      const after = per.map((p) => p.afterSwitchMs).filter((x): x is number => x !== null);
      return [
        route.key,
        {
          label: route.label,
          port: route.port,
          outageMs: percentiles(outages),
          afterFirstSwitchMs: percentiles(after),
          roundsWithoutRecovery: per.filter((p) => p.outageMs === null).length,
          acksByRestartedOldMaster: per.map((p) => p.acksByRestartedOldMaster),
          acksByRestartedOldMasterTotal: per.reduce((a, p) => a + p.acksByRestartedOldMaster, 0),
          acksByRestartedNodeAsSentinelsMasterTotal: per.reduce((a, p) => a + p.acksByRestartedNodeAsSentinelsMaster, 0),
        },
      ];
    }),
  );
  const timeline = (pick: (r: RoundResult) => number | null) => percentiles(results.map(pick).filter((x): x is number => x !== null));
  writeResult('outage', {
    roundsAsked: rounds,
    roundsDone: results.length,
    ...(failure ? { failure } : {}),
    unit: 'ms after t_kill unless the key says otherwise',
    setup: {
      redis: '1 master + 1 replica, save "" (the restarted old master comes back empty)',
      sentinels: 3,
      quorum: 2,
      downAfterMilliseconds: DOWN_AFTER_MS,
      writer: `a new connection per route every ${WRITE_EVERY_MS} ms, INFO server + SET pipelined, ${ATTEMPT_TIMEOUT_MS} ms bound per attempt`,
      window: `until ${WRITE_AFTER_SWITCH_MS} ms after the first +switch-master`,
      oldMaster: 'SIGKILL, then started again on its port with its data dir and config (replicaof removed) as soon as the first +switch-master arrives',
      routes: Object.fromEntries(routes.map((r) => [r.key, r.label])),
      plainHaproxy: 'one backend with both nodes; option tcp-check; PING/+PONG; info replication / role:master; QUIT/+OK; check inter 1s (rise 2, fall 3 by default)',
    },
    roundsWithSecondFailover: results.filter((r) => r.laterSwitchPorts.length > 0).map((r) => r.round),
    timeline: { replicaRoleMasterMs: timeline((r) => r.replicaRoleMasterMs), firstSwitchMs: timeline((r) => r.firstSwitchMs), oldMasterReadyMs: timeline((r) => r.oldMasterReadyMs) },
    summary,
    rounds: results,
  });
  const n = results.length;
  rows.push({ what: `client-visible outage, ${n} crashes (kill → first +switch-master p50 ${ms(timeline((r) => r.firstSwitchMs).p50)}):`, ours: '', baseline: '', ratio: '', target: '', result: '' });
  rows.push({ what: '  route: outage p50 / p95 · after switch p50 · writes acked by the old master', ours: '', baseline: '', ratio: '', target: '', result: '' });
  for (const route of routes) {
    const s = summary[route.key]!;
    const oursRoute = route.key.startsWith('ours');
    const values = `${s.outageMs.n ? `${ms(s.outageMs.p50)} / ${ms(s.outageMs.p95)}` : 'never'} · ${s.afterFirstSwitchMs.n ? ms(s.afterFirstSwitchMs.p50) : '–'} · ${s.acksByRestartedOldMasterTotal}${s.roundsWithoutRecovery ? ` · ${s.roundsWithoutRecovery} not recovered` : ''}`;
    rows.push({
      what: `  ${route.label}`,
      ours: values,
      baseline: '',
      ratio: '',
      target: oursRoute ? '0 acked by the old master' : '',
      result: oursRoute ? (s.acksByRestartedOldMasterTotal === 0 && s.roundsWithoutRecovery === 0 ? 'met' : 'MISSED') : '',
    });
  }
}
