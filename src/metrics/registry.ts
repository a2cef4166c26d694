import { joinHostPort } from '../config/address.js';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { OutputStatus } from '../outputs/types.js';
import type { ClusterQuorumStatus, SentinelStatus } from '../sentinel/status.js';
import type { TopologyStore } from '../topology/store.js';
import type { MasterChange } from '../topology/types.js';
import { stateName } from '../sentinel/state.js';
import type { DoorRole, RouteState } from '../verify/types.js';

export interface MetricsSources {
  topology: TopologyStore;
  sentinels(): Record<string, SentinelStatus>;
  outputs(): OutputStatus[];
  clusterStatus?(name: string): ClusterQuorumStatus;
  /** Per output, cluster and door (write: ExternalPort, read: ExternalReadPort), the front-door verification state (src/verify); absent: none. */
  routes?(): Array<{ cluster: string; output: string; door: DoorRole; state: RouteState }>;
}

/**
 * Prometheus metrics; gauges read the live state at scrape time so nothing can drift.
 * prom-client is loaded by load(), after the daemon's first publish (its evaluation would delay
 * the start-up): what happens before that is kept and replayed.
 */
export class Metrics {
  private loaded: Promise<Registry> | null = null;
  private instruments: Instruments | null = null;
  private pending: Array<(m: Instruments) => void> = [];

  constructor(private readonly sources: MetricsSources) {}

  /** Loads prom-client and registers every metric (once); resolves to the registry. */
  load(): Promise<Registry> {
    this.loaded ??= import('prom-client').then((prom) => {
      const m = createInstruments(prom, this.sources);
      this.instruments = m;
      for (const record of this.pending) record(m);
      this.pending = [];
      return m.registry;
    });
    return this.loaded;
  }

  private record(fn: (m: Instruments) => void): void {
    if (this.instruments) fn(this.instruments);
    else this.pending.push(fn);
  }

  onChange(change: MasterChange): void {
    if (change.previous) this.record((m) => m.failovers.inc({ cluster: change.cluster }));
  }

  onApplied(output: string, changes: MasterChange[], applyMs: number): void {
    const now = Date.now();
    this.record((m) => {
      m.applySeconds.set({ output }, applyMs / 1000);
      for (const c of changes) if (c.announcedAt !== null) m.propagation.set({ cluster: c.cluster, output }, (now - c.announcedAt) / 1000);
    });
  }

  /** A failover's new master was first reached through the output's front door. */
  onVerified(output: string, cluster: string, verifiedMs: number): void {
    this.record((m) => m.verified.set({ cluster, output }, verifiedMs / 1000));
  }

  onApplyFailed(output: string): void {
    this.record((m) => m.applyFailures.inc({ output }));
  }
}

interface Instruments {
  registry: Registry;
  failovers: Counter<'cluster'>;
  propagation: Gauge<'cluster' | 'output'>;
  verified: Gauge<'cluster' | 'output'>;
  applySeconds: Gauge<'output'>;
  applyFailures: Counter<'output'>;
}

function createInstruments(prom: typeof import('prom-client'), sources: MetricsSources): Instruments {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = prom;
  const registry = new Registry();
  const registers = [registry];
  // The event-loop-lag histogram samples with a timer; prom-client's default 10 ms period alone
  // costs about 1 % of a core on an idle daemon.
  collectDefaultMetrics({ register: registry, prefix: 'redishappy_', eventLoopMonitoringPrecision: 1000 });

  new Gauge({
    name: 'redishappy_sentinels',
    help: 'Sentinels watched, by state (up, down, alive, unknown)',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const counts: Record<string, number> = { up: 0, down: 0, alive: 0, unknown: 0 };
      for (const s of Object.values(sources.sentinels())) counts[stateName[s.state]] = (counts[stateName[s.state]] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'redishappy_cluster_master_info',
    help: 'Confirmed master per cluster (value 1; address and config epoch in labels)',
    labelNames: ['cluster', 'ip', 'port', 'config_epoch'],
    registers,
    collect() {
      this.reset();
      for (const c of sources.topology.snapshot().clusters) {
        if (c.master) this.set({ cluster: c.name, ip: c.master.ip, port: String(c.master.port), config_epoch: String(c.configEpoch ?? '') }, 1);
      }
    },
  });
  new Gauge({
    name: 'redishappy_cluster_confirmed',
    help: '1 when the cluster has a confirmed master, else 0',
    labelNames: ['cluster'],
    registers,
    collect() {
      this.reset();
      for (const c of sources.topology.snapshot().clusters) this.set({ cluster: c.name }, c.master ? 1 : 0);
    },
  });
  // The read endpoint (issue 21): clusters with an ExternalReadPort only.
  const readClusters = () => sources.topology.snapshot().clusters.filter((c) => c.externalReadPort);
  new Gauge({
    name: 'redishappy_read_pool_size',
    help: 'Replicas serving reads on the cluster\'s read endpoint (0: reads go to the master, or are refused)',
    labelNames: ['cluster'],
    registers,
    collect() {
      this.reset();
      for (const c of readClusters()) this.set({ cluster: c.name }, (c.replicas ?? []).length);
    },
  });
  new Gauge({
    name: 'redishappy_replica_lag_bytes',
    help: 'Measured replication lag of each replica of a read endpoint cluster (no series while not measured)',
    labelNames: ['cluster', 'replica'],
    registers,
    collect() {
      this.reset();
      for (const c of readClusters()) for (const r of c.readPool?.candidates ?? []) if (r.lagBytes !== null) this.set({ cluster: c.name, replica: joinHostPort(r.ip, r.port) }, r.lagBytes);
    },
  });
  new Gauge({
    name: 'redishappy_replica_read_state',
    help: '1 for the state of each replica of a read endpoint cluster: serving, or the reason it is out',
    labelNames: ['cluster', 'replica', 'state'],
    registers,
    collect() {
      this.reset();
      for (const c of readClusters()) for (const r of c.readPool?.candidates ?? []) this.set({ cluster: c.name, replica: joinHostPort(r.ip, r.port), state: r.reason ?? 'serving' }, 1);
    },
  });
  new Gauge({
    name: 'redishappy_topology_version',
    help: 'Topology version (increments on every confirmed change)',
    registers,
    collect() {
      this.set(sources.topology.snapshot().version);
    },
  });
  new Gauge({
    name: 'redishappy_output_applied_version',
    help: 'Topology version each output has applied (-1 = none yet)',
    labelNames: ['output'],
    registers,
    collect() {
      this.reset();
      for (const o of sources.outputs()) this.set({ output: o.name }, o.appliedVersion ?? -1);
    },
  });
  new Gauge({
    name: 'redishappy_output_in_error',
    help: '1 when the output\'s last attempt failed',
    labelNames: ['output'],
    registers,
    collect() {
      this.reset();
      for (const o of sources.outputs()) this.set({ output: o.name }, o.lastError ? 1 : 0);
    },
  });
  new Gauge({
    name: 'redishappy_output_events',
    help: 'Counters reported by each output (renders, reloads, reload_failures, validation_failures, runtime_switches, registrations, ...)',
    labelNames: ['output', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const o of sources.outputs()) {
        for (const [k, v] of Object.entries(o.details ?? {})) {
          if (typeof v === 'number' && Number.isFinite(v) && !/At$|Ms$/.test(k)) this.set({ output: o.name, kind: snake(k) }, v);
        }
      }
    },
  });
  const clusterStatus = sources.clusterStatus;
  if (clusterStatus) {
    const perCluster = (name: string, help: string, value: (q: ClusterQuorumStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['cluster'],
        registers,
        collect() {
          this.reset();
          for (const c of sources.topology.snapshot().clusters) this.set({ cluster: c.name }, value(clusterStatus(c.name)));
        },
      });
    perCluster('redishappy_cluster_held', '1 while a master change is held back (no quorum, sentinels disagree, or no confirmed master); the code is in redishappy_cluster_hold_info, the reason in /api/topology', (q) => (q.held ? 1 : 0));
    new Gauge({
      name: 'redishappy_cluster_hold_info',
      help: '1 for the code of the current hold (no-quorum, split-vote, below-floor, probe-failed, unrelated-groups, failover-in-progress, ...); no series while not held',
      labelNames: ['cluster', 'code'],
      registers,
      collect() {
        this.reset();
        for (const c of sources.topology.snapshot().clusters) {
          const held = clusterStatus(c.name).held;
          if (held) this.set({ cluster: c.name, code: held.code }, 1);
        }
      },
    });
    perCluster('redishappy_cluster_quorum', 'Sentinels that must agree before a master is confirmed', (q) => q.quorum);
    perCluster('redishappy_cluster_sentinels_known', 'Sentinels counted for the cluster (configured and discovered, up or down, in the group)', (q) => q.knownSentinels);
    perCluster('redishappy_cluster_sentinels_agreeing', 'Sentinels of the group whose settled view names the confirmed master', (q) => q.agreeingSentinels);
  }
  // Every labelled series of the configured clusters and outputs exists from the first scrape
  // (Prometheus' instrumentation guidelines): 0 until something happens, so increase() and
  // absent() work before the first failover. Read from the live configuration at scrape time,
  // so a SIGHUP adds new clusters/outputs and drops removed ones.
  const clusters = () => sources.topology.snapshot().clusters.map((c) => c.name);
  const outputs = () => sources.outputs().map((o) => o.name);
  const verifiedOutputs = () => [...new Set((sources.routes?.() ?? []).map((r) => r.output))];
  const failovers = new Counter({
    name: 'redishappy_failovers_total',
    help: 'Confirmed master changes (not counting the first confirmation after start)',
    labelNames: ['cluster'],
    registers,
    collect: seriesFor(() => clusters().map((cluster) => ({ cluster })), (m, l) => m.inc(l, 0)),
  });
  const propagation = new Gauge({
    name: 'redishappy_failover_propagation_seconds',
    help: 'Last failover: time from the sentinel announcement (+switch-master) to the output having applied it (0 until the first failover)',
    labelNames: ['cluster', 'output'],
    registers,
    collect: seriesFor(() => clusters().flatMap((cluster) => outputs().map((output) => ({ cluster, output }))), (m, l) => m.inc(l, 0)),
  });
  // Beside the propagation: that one ends when the output applied, this one when a new client
  // going through the output's front door reached the new master (src/verify).
  const verified = new Gauge({
    name: 'redishappy_failover_verified_seconds',
    help: 'Last failover: time from the sentinel announcement (+switch-master) to a new client reaching the new master through the output (front-door check; 0 until the first failover)',
    labelNames: ['cluster', 'output'],
    registers,
    collect: seriesFor(() => clusters().flatMap((cluster) => verifiedOutputs().map((output) => ({ cluster, output }))), (m, l) => m.inc(l, 0)),
  });
  const routes = sources.routes;
  if (routes) {
    new Gauge({
      name: 'redishappy_route_verified',
      help: '1 when a new client through the output reaches where it must (door="write": the confirmed master; door="read": a read pool member, the master as fallback, or a refusal when reads must be refused), or the check after a change is still pending; 0 when it reaches another instance or nothing; no series while verification is off',
      labelNames: ['cluster', 'output', 'door'],
      registers,
      collect() {
        this.reset();
        for (const r of routes()) this.set({ cluster: r.cluster, output: r.output, door: r.door }, r.state === 'wrong' || r.state === 'unreachable' ? 0 : 1);
      },
    });
  }
  const applySeconds = new Gauge({
    name: 'redishappy_output_last_apply_seconds',
    help: 'Duration of the last successful apply per output',
    labelNames: ['output'],
    registers,
    collect: seriesFor(() => outputs().map((output) => ({ output })), (m, l) => m.inc(l, 0)),
  });
  const applyFailures = new Counter({
    name: 'redishappy_output_apply_failures_total',
    help: 'Failed applies per output (each is retried)',
    labelNames: ['output'],
    registers,
    collect: seriesFor(() => outputs().map((output) => ({ output })), (m, l) => m.inc(l, 0)),
  });
  return { registry, failovers, propagation, verified, applySeconds, applyFailures };
}

type Labels = Record<string, string>;

/**
 * A collect() hook that makes sure a series exists for each wanted label set (adding 0 keeps an
 * existing value) and removes the series of label sets no longer configured.
 */
function seriesFor<M extends { remove(labels: Labels): void }>(wanted: () => Labels[], touch: (metric: M, labels: Labels) => void) {
  let previous = new Map<string, Labels>();
  return function (this: M): void {
    const current = new Map(wanted().map((l) => [JSON.stringify(l), l] as const));
    for (const [key, labels] of previous) if (!current.has(key)) this.remove(labels);
    for (const labels of current.values()) touch(this, labels);
    previous = current;
  };
}

function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
