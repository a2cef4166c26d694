import assert from 'node:assert/strict';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { bindFailure, retryOnPortClash, routedTo, startCluster, waitFor, type Cleanup, type ClusterFixture, type RedisNode } from '../harness/index.js';
import { ANY_PORT, daemonExited, runBin, waitListening, type DaemonProcess } from '../support/daemon-process.js';
import { prepareHaproxy, type HaproxySetup } from '../support/haproxy-setup.js';
import type { Switch } from './scenario.js';

export interface ChaosRig {
  cluster: ClusterFixture;
  setup: HaproxySetup;
  /** HAProxy's external port for the cluster: where the writers connect. */
  ext: number;
  daemon: DaemonProcess;
  /**
   * The API of the daemon last started, e.g. "http://127.0.0.1:41234", and its port. Each start
   * binds a port the kernel picks (no freePort race), so these change with every startDaemon;
   * after a kill they still name the dead daemon's address.
   */
  apiBase: string;
  apiPort: number;
  /** Every change of master announced by +switch-master, as first seen by the test's own subscribers. */
  switches: Switch[];
  /** Every +switch-master message from every sentinel (each sentinel publishes it, some late). */
  messages: Array<{ at: number; master: number; sentinel: number }>;
  /** Every +sdown / +odown / -odown message from every sentinel, as the test's subscribers saw them. */
  sentinelEvents: Array<{ at: number; channel: string; text: string; sentinel: number }>;
  /** When a sentinel first announced the master on `port` objectively down (+odown), or undefined. */
  odownAt(port: number): number | undefined;
  startDaemon(): Promise<DaemonProcess>;
  /** Reloads HAProxy got from redishappy's ReloadCommand (logged by it). */
  reloads(): number;
  api<T>(path: string): Promise<T>;
  metrics(): Promise<string>;
  haproxyDetails(): Promise<Record<string, unknown>>;
  /** The cluster node listening on `port` (throws if there is none). */
  nodeByPort(port: number): RedisNode;
}

export type Outputs = { outputs: Array<{ name: string; lastError: string | null; appliedVersion: number | null; details: Record<string, unknown> }> };

export interface RigOptions {
  /** HAProxy runtime API (live switch + shutdown sessions): the recommended deployment. Default true. */
  runtime?: boolean;
  replicas?: number;
  /** The executable: redishappy-haproxy (default) or the umbrella redishappy (HAProxy + Consul). */
  bin?: 'redishappy-haproxy' | 'redishappy';
  /**
   * Sentinel's down-after-milliseconds. Default 1500: with 1000, Sentinel's first PING to a
   * just-promoted master (its link is recreated at the switch) goes out after 1 s, so the reply
   * comes a few ms too late and Sentinel fails the healthy new master over a second time.
   */
  downAfterMs?: number;
  /**
   * Edit the redishappy configuration before the daemon first starts. Called again on the new
   * files if the rig has to start HAProxy and the daemon again (a frontend port was taken).
   */
  configure?: (cfg: Record<string, Record<string, unknown>>) => void;
}

/** A cluster (1 master, N replicas, 3 sentinels), HAProxy in master-worker mode and the daemon routing to the master. */
export async function chaosRig(cleanup: Cleanup, opts: RigOptions = {}): Promise<ChaosRig> {
  const cluster = await startCluster(cleanup, { names: ['testing'], replicas: opts.replicas ?? 1, sentinels: 3, downAfterMs: opts.downAfterMs ?? 1500 });
  const switches: Switch[] = [];
  const messages: ChaosRig['messages'] = [];
  const sentinelEvents: ChaosRig['sentinelEvents'] = [];
  // The test's own witness of Sentinel's decisions, on every sentinel (the first report counts).
  for (const s of cluster.sentinels) {
    const sub = s.client();
    cleanup.add(() => sub.disconnect());
    await sub.subscribe('+switch-master', '+sdown', '+odown', '-odown');
    sub.on('message', (ch: string, msg: string) => {
      if (ch !== '+switch-master') {
        sentinelEvents.push({ at: Date.now(), channel: ch, text: msg, sentinel: s.port });
        return;
      }
      const port = Number(msg.split(' ')[4]);
      messages.push({ at: Date.now(), master: port, sentinel: s.port });
      if ((switches.at(-1)?.master ?? cluster.masters.get('testing')!.port) !== port) switches.push({ at: Date.now(), master: port });
    });
  }
  if (process.env.CHAOS_DEBUG) cleanup.add(() => cluster.sentinels.forEach((s) => s.output().split('\n').forEach((l) => console.log(`SENTINEL ${s.port} ${l}`))));
  /** Start the daemon under `scope`, its API on a port the kernel picks, and point the rig at it. */
  const start = async (scope: Cleanup) => {
    const d = runBin(scope, opts.bin ?? 'redishappy-haproxy', ['-config', rig.setup.configPath, '-bind', ANY_PORT]);
    rig.apiBase = await waitListening(d);
    rig.apiPort = Number(new URL(rig.apiBase).port);
    rig.daemon = d;
    // CHAOS_DEBUG=1: the daemon's log, for finding out why a scenario failed.
    if (process.env.CHAOS_DEBUG) scope.add(() => d.stdout().split('\n').forEach((l) => l && console.log(`DAEMON ${l}`)));
    return d;
  };
  const rig: ChaosRig = {
    cluster,
    setup: undefined as unknown as HaproxySetup,
    ext: 0,
    apiBase: '',
    apiPort: 0,
    switches,
    messages,
    sentinelEvents,
    odownAt: (port) => sentinelEvents.find((e) => e.channel === '+odown' && e.text.startsWith(`master testing 127.0.0.1 ${port} `))?.at,
    daemon: undefined as unknown as DaemonProcess,
    startDaemon: () => start(cleanup),
    reloads: () => (existsSync(rig.setup.reloadLog) ? readFileSync(rig.setup.reloadLog, 'utf8').split('\n').filter(Boolean).length : 0),
    async api<T>(path: string) {
      return (await (await fetch(`${rig.apiBase}${path}`)).json()) as T;
    },
    metrics: async () => (await fetch(`${rig.apiBase}/metrics`)).text(),
    async haproxyDetails() {
      const o = await rig.api<Outputs>('/api/outputs');
      return o.outputs.find((x) => x.name === 'haproxy')!.details;
    },
    nodeByPort(port: number) {
      const n = cluster.nodeByPort(port);
      if (!n) throw new Error(`no node on port ${port}`);
      return n;
    },
  };
  // HAProxy's frontend port comes from freePort (it is in the config before HAProxy binds it): if
  // it was taken meanwhile, HAProxy and the daemon are stopped and started again on a new one.
  await retryOnPortClash(cleanup, 'chaos rig (HAProxy and redishappy)', async (scope) => {
    const setup = await prepareHaproxy(scope, cluster, { runtime: opts.runtime ?? true, apiPort: false });
    if (opts.configure) {
      const cfg = JSON.parse(readFileSync(setup.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
      opts.configure(cfg);
      writeFileSync(setup.configPath, JSON.stringify(cfg));
    }
    rig.setup = setup;
    rig.ext = setup.externalPorts.get('testing')!;
    const d = await start(scope);
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === cluster.masters.get('testing')!.port, {
      timeoutMs: 15000,
      intervalMs: 20,
      what: 'HAProxy routes to the initial master',
      stopIf: () => bindFailure(setup.haproxy, [rig.ext]) ?? daemonExited(d),
    });
  });
  return rig;
}

/** Wait until new connections through HAProxy reach `port`. */
export async function waitRouted(ext: number, port: number, timeoutMs: number, what: string, intervalMs = 20): Promise<void> {
  await waitFor(async () => (await routedTo(ext).catch(() => 0)) === port, { timeoutMs, intervalMs, what });
}

/** Sentinel's failover is done: every running sentinel names a master other than `from`. Returns its port. */
export async function waitSentinelMoved(cluster: ClusterFixture, from: number, timeoutMs = 30000): Promise<number> {
  return waitFor(async () => {
    const views = await Promise.all(cluster.sentinels.filter((s) => s.running).map((s) => cluster.sentinelMaster('testing', s).catch(() => null)));
    const ports = new Set(views.map((v) => v?.port));
    const [only] = [...ports];
    return ports.size === 1 && only !== undefined && only !== from ? only : undefined;
  }, { timeoutMs, intervalMs: 50, what: `Sentinel to fail over away from ${from}` });
}

export async function waitReplicaHealthy(cluster: ClusterFixture, replicaPort: number, timeoutMs = 30000): Promise<void> {
  await waitFor(async () => {
    const c = cluster.sentinels.find((s) => s.running)!.client();
    try {
      const reps = (await c.call('SENTINEL', 'REPLICAS', 'testing')) as string[][];
      return reps.some((r) => r[r.indexOf('port') + 1] === String(replicaPort) && !(r[r.indexOf('flags') + 1] ?? '').includes('down') && r[r.indexOf('master-link-status') + 1] === 'ok');
    } finally {
      c.disconnect();
    }
  }, { timeoutMs, what: `replica ${replicaPort} healthy in Sentinel's eyes` });
}

/** The node answers ROLE with the given role. */
export async function waitRole(node: RedisNode, role: 'master' | 'slave', timeoutMs: number): Promise<void> {
  await waitFor(async () => (await node.role().catch(() => '')) === role, { timeoutMs, intervalMs: 100, what: `${node.name} to be ${role}` });
}

/** Sentinel really judged the master on `port` down (+odown) before it switched away from it (the first +switch-master). */
export function assertMarkedDown(rig: ChaosRig, port: number): void {
  const at = rig.odownAt(port);
  assert.ok(at !== undefined, `no sentinel announced +odown for the master on ${port}`);
  const sw = rig.switches[0];
  assert.ok(sw !== undefined && at <= sw.at, `+odown for ${port} came after the switch`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
