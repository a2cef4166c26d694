import { readFileSync, existsSync } from 'node:fs';
import { routedTo, startCluster, waitFor, type Cleanup, type ClusterFixture } from '../harness/index.js';
import { runBin, waitListening, type DaemonProcess } from '../support/daemon-process.js';
import { prepareHaproxy, type HaproxySetup } from '../support/haproxy-setup.js';

export interface ChaosRig {
  cluster: ClusterFixture;
  setup: HaproxySetup;
  ext: number;
  daemon: DaemonProcess;
  /** Times (ms) and new master port of every +switch-master seen by the test's own subscriber. */
  switches: Array<{ at: number; master: number }>;
  /** Every +switch-master message from every sentinel (they repeat, some late). */
  messages: Array<{ at: number; master: number }>;
  startDaemon(): Promise<DaemonProcess>;
  reloads(): number;
  api<T>(path: string): Promise<T>;
}

/** A cluster (1 master, 1 replica, 3 sentinels), HAProxy in master-worker mode and redishappy-haproxy with the runtime API. */
export async function chaosRig(cleanup: Cleanup, opts: { runtime?: boolean; extra?: Record<string, unknown>; replicas?: number } = {}): Promise<ChaosRig> {
  const cluster = await startCluster(cleanup, { names: ['testing'], replicas: opts.replicas ?? 1, sentinels: 3 });
  const setup = await prepareHaproxy(cleanup, cluster, { runtime: opts.runtime ?? true, extra: opts.extra });
  const ext = setup.externalPorts.get('testing')!;
  const switches: Array<{ at: number; master: number }> = [];
  const messages: Array<{ at: number; master: number }> = [];
  // Our own witness of Sentinel's decisions, on every sentinel (the first report counts).
  for (const s of cluster.sentinels) {
    const sub = s.client();
    await sub.subscribe('+switch-master');
    sub.on('message', (_ch: string, msg: string) => {
      const port = Number(msg.split(' ')[4]);
      messages.push({ at: Date.now(), master: port });
      if (switches.at(-1)?.master !== port) switches.push({ at: Date.now(), master: port });
    });
  }
  const rig: ChaosRig = {
    cluster,
    setup,
    ext,
    switches,
    messages,
    daemon: undefined as unknown as DaemonProcess,
    async startDaemon() {
      const d = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', `127.0.0.1:${setup.apiPort}`]);
      await waitListening(d);
      rig.daemon = d;
      return d;
    },
    reloads: () => (existsSync(setup.reloadLog) ? readFileSync(setup.reloadLog, 'utf8').split('\n').filter(Boolean).length : 0),
    async api<T>(path: string) {
      return (await (await fetch(`http://127.0.0.1:${setup.apiPort}${path}`)).json()) as T;
    },
  };
  await rig.startDaemon();
  await waitFor(async () => (await routedTo(ext)) === cluster.masters.get('testing')!.port, { timeoutMs: 15000, what: 'HAProxy routes to the master' });
  return rig;
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
