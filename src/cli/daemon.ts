import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HaproxyView } from '../api/server.js';
import { quorumFields } from '../api/fields.js';
import { ApiPort } from '../api/port.js';
import type { ListenTarget } from '../api/bind.js';
import { clusterDefinitions } from '../config/definitions.js';
import { loadConfigFile, type Config, type Flavour } from '../config/load.js';
import { SentinelWatcher } from '../sentinel/watcher.js';
import type { WatcherEvent } from '../sentinel/status.js';
import { TopologyStore } from '../topology/store.js';
import { sameAddress } from '../config/address.js';
import { OutputRunner } from '../outputs/runner.js';
import type { Output } from '../outputs/types.js';
import { kindsFor, sectionValue } from '../outputs/kinds.js';
import type { MasterChange } from '../topology/types.js';
import { Metrics } from '../metrics/registry.js';
import { EventStream } from '../api/stream.js';
import { OutputVerifier, type FailoverVerified } from '../verify/verifier.js';
import { instanceAccess } from '../verify/access.js';
import type { DoorRole, RouteVerification } from '../verify/types.js';
import { readPoolView } from '../api/read-pool-view.js';

export interface DaemonOptions {
  flavour: Flavour;
  configPath: string;
  config: Config;
  logger: Logger;
  listen: ListenTarget;
  env?: NodeJS.ProcessEnv;
  /** Longest wait for the first sentinel round before outputs get the first state. */
  startupSyncTimeoutMs?: number;
}

const MAX_EVENTS = 200;
/** Failovers are also kept apart, so sentinel chatter cannot push hours of them out of the timeline. */
const MAX_FAILOVERS = 200;


/** Outputs enabled for a flavour: the executable's own, or (umbrella) every section present. */
export function createOutputs(flavour: Flavour, config: Config, logger: Logger, sentinelsHealthy: () => boolean = () => true): Output[] {
  const ctx = { logger, clusterNames: config.Clusters.map((c) => c.Name), sentinelsHealthy };
  return kindsFor(flavour).flatMap((kind) => {
    const value = sectionValue(config, kind);
    return value === undefined ? [] : kind.create(value, ctx);
  });
}

/**
 * Initialise outputs in order. When one cannot start, those already started are closed (newest
 * first, the reverse of start-up) before the error is passed on: a refused start or reload must
 * not leave their timers and files behind.
 */
export async function initOutputs(outputs: Output[]): Promise<void> {
  const started: Output[] = [];
  try {
    for (const output of outputs) {
      await output.init?.();
      started.push(output);
    }
  } catch (err) {
    for (const output of started.reverse()) await output.close().catch(() => undefined);
    throw err;
  }
}

/** Wires sentinels → watcher → topology → outputs, plus the API. */
export class Daemon {
  config: Config;
  readonly topology: TopologyStore;
  readonly watcher: SentinelWatcher;
  private runners: OutputRunner[] = [];
  /** One per runner that has a front door: proves clients reach the confirmed master through it. */
  private verifiers: OutputVerifier[] = [];
  readonly metrics: Metrics;
  readonly stream: EventStream;
  private api: FastifyInstance | null = null;
  private port: ApiPort | null = null;
  private apiStarting: Promise<void> | null = null;
  private stopped = false;
  private events: Array<Record<string, unknown>> = [];
  private failovers: Array<Record<string, unknown>> = [];
  private reloading: Promise<boolean> | null = null;
  address = '';

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.topology = new TopologyStore(clusterDefinitions(opts.config));
    this.watcher = new SentinelWatcher(opts.config, this.topology, opts.logger);
    this.watcher.onEvent((e) => this.record(e));
    this.metrics = new Metrics({ topology: this.topology, sentinels: () => this.watcher.sentinels(), outputs: () => this.outputStatuses(), clusterStatus: (name) => this.watcher.clusterStatus(name), routes: () => this.routes() });
    this.topology.on('change', (change) => this.metrics.onChange(change));
    this.stream = new EventStream(() => this.liveState());
  }

  /** At least one sentinel answers: outputs with health checks (Consul TTL) report failure otherwise. */
  sentinelsHealthy(): boolean {
    return Object.values(this.watcher.sentinels()).some((s) => s.state === 3);
  }

  /** What the status page and /api/stream show. */
  liveState() {
    const snapshot = this.topology.snapshot();
    const verification = this.verification();
    const readVerification = this.verification('read');
    const clusters = snapshot.clusters.map((c) => ({ ...c, ...quorumFields(this.watcher.clusterStatus(c.name)), verification: verification[c.name] ?? {}, readVerification: readVerification[c.name] ?? {}, readView: readPoolView(c) }));
    // Failovers of the last 24 hours: what the page can chart.
    const dayAgo = Date.now() - 24 * 3600 * 1000;
    return { version: snapshot.version, clusters, sentinels: this.watcher.sentinels(), outputs: this.outputStatuses(), events: this.events.slice(0, 50), failovers: this.failovers.filter((e) => Date.parse(e.at as string) >= dayAgo) };
  }

  /** Each output's status, with its verifier's counters in `details`. */
  private outputStatuses() {
    return this.runners.map((r) => {
      const status = r.status();
      const v = this.verifiers.find((x) => x.output === r.output);
      return v ? { ...status, details: { ...status.details, ...v.details() } } : status;
    });
  }

  /**
   * Per cluster, per output: whether clients reach the confirmed master through it (`write`), or
   * the read pool through its read door (`read`) (/api/topology, the status page).
   */
  verification(door: DoorRole = 'write'): Record<string, Record<string, RouteVerification>> {
    const out: Record<string, Record<string, RouteVerification>> = {};
    for (const v of this.verifiers) for (const [cluster, route] of door === 'write' ? v.states() : v.readStates()) (out[cluster] ??= {})[v.name] = route;
    return out;
  }

  private routes() {
    return this.verifiers.flatMap((v) => [
      ...[...v.states()].map(([cluster, route]) => ({ cluster, output: v.name, door: 'write' as const, state: route.state })),
      ...[...v.readStates()].map(([cluster, route]) => ({ cluster, output: v.name, door: 'read' as const, state: route.state })),
    ]);
  }

  /** A runner for the output, and its verifier, told of every apply that succeeded. */
  private newRunner(output: Output, config: Config): OutputRunner {
    let verifier: OutputVerifier | undefined;
    const runner = new OutputRunner(output, this.opts.logger, {
      onApplied: (output, changes, ms) => {
        this.metrics.onApplied(output, changes, ms);
        this.recordApplied(output, changes);
        verifier?.applied(changes);
        this.stream.notify();
      },
      onFailed: (output, err) => {
        this.metrics.onApplyFailed(output);
        this.record({ type: 'output-error', output, error: err.message, at: new Date().toISOString() });
      },
    });
    if (output.frontDoor) {
      verifier = new OutputVerifier({
        output,
        runner,
        snapshot: () => this.topology.snapshot(),
        access: instanceAccess(config),
        logger: this.opts.logger,
        onChange: () => this.stream.notify(),
        onFailoverVerified: (e) => this.recordVerified(e),
      });
      this.pendingVerifiers.push(verifier);
    }
    return runner;
  }

  /** Verifiers made with the runners being created; they replace the running ones with them. */
  private pendingVerifiers: OutputVerifier[] = [];

  private takeVerifiers(): OutputVerifier[] {
    const made = this.pendingVerifiers;
    this.pendingVerifiers = [];
    for (const v of made) v.start();
    return made;
  }

  /** The failover event gets `verified[output] = { at, verifiedMs, from }`, and the metric its seconds. */
  private recordVerified(e: FailoverVerified): void {
    this.metrics.onVerified(e.output, e.cluster, e.verifiedMs);
    const event = this.failovers.find((f) => f.cluster === e.cluster && sameAddress((f.to as MasterChange['current'] | undefined) ?? null, e.master) && f.configEpoch === e.configEpoch);
    if (event) {
      const verified = ((event.verified as Record<string, unknown> | undefined) ??= {});
      verified[e.output] ??= { at: new Date().toISOString(), verifiedMs: e.verifiedMs, from: e.from };
    }
    this.stream.notify();
  }

  private record(e: WatcherEvent | Record<string, unknown>): void {
    this.events.unshift(e);
    if (this.events.length > MAX_EVENTS) this.events.length = MAX_EVENTS;
    if (e.type === 'failover') {
      this.failovers.unshift(e);
      if (this.failovers.length > MAX_FAILOVERS) this.failovers.length = MAX_FAILOVERS;
    }
    this.stream.notify();
  }

  /**
   * Per-failover propagation: when an output first applies a change, its failover event gets
   * `applied[output] = { at, propagationMs, from }`, the time from the sentinel's announcement
   * (or, if none was seen, from the confirmation) to that output having applied it.
   */
  private recordApplied(output: string, changes: MasterChange[]): void {
    const now = Date.now();
    for (const c of changes) {
      const event = this.failovers.find((e) => {
        const to = e.to as MasterChange['current'] | undefined;
        return e.cluster === c.cluster && sameAddress(to ?? null, c.current) && e.configEpoch === c.configEpoch;
      });
      if (!event) continue;
      const applied = ((event.applied as Record<string, unknown> | undefined) ??= {});
      if (applied[output]) continue;
      const start = c.announcedAt ?? Date.parse(c.confirmedAt);
      applied[output] = { at: new Date(now).toISOString(), propagationMs: now - start, from: c.announcedAt !== null ? 'announcement' : 'confirmation' };
    }
  }

  /** Start the watcher, the outputs (refusing to start if one cannot initialise) and the API port. */
  async start(): Promise<void> {
    const log = this.opts.logger;
    // Nothing reaches the outputs until the first publish below: until then they keep what they
    // have (e.g. the HAProxy file a previous run wrote), rather than an empty or partial start-up state.
    this.topology.on('change', (change, snapshot) => {
      if (!this.published) {
        this.maybePublish();
        return;
      }
      for (const r of this.runners) r.submit(snapshot, [change]);
    });
    this.topology.on('reconfigured', (snapshot) => {
      if (this.published) for (const r of this.runners) r.submit(snapshot, []);
    });
    // Replicas are template data (read-only backends): outputs re-render; unchanged files are no-ops.
    this.topology.on('replicas', (_cluster, snapshot) => {
      if (this.published) for (const r of this.runners) r.submit(snapshot, []);
    });
    // The sentinel connections come up while the outputs load their templates and the port is
    // bound: nothing is published before both are done (outputsReady), and a failure below stops
    // the watcher again (main() calls stop()).
    this.watcher.start();

    const outputs = createOutputs(this.opts.flavour, this.config, log, () => this.sentinelsHealthy());
    await initOutputs(outputs);
    this.runners = outputs.map((s) => this.newRunner(s, this.config));
    this.verifiers = this.takeVerifiers();

    // The port is bound now (a taken one stops the daemon before any output is touched); the API
    // behind it is built after the first publish (see startApi).
    this.port = new ApiPort(() => void this.startApi());
    this.address = await this.port.listen(this.opts.listen);
    log.info({ address: this.address, flavour: this.opts.flavour }, 'API listening');

    this.outputsReady = true;
    this.maybePublish();

    const timeoutMs = this.opts.startupSyncTimeoutMs ?? this.config.Watcher.CommandTimeoutMs * 3 + 500;
    let timer: NodeJS.Timeout | undefined;
    const synced = await Promise.race([
      this.watcher.ready().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!synced) log.warn({ timeoutMs }, 'sentinels did not all answer in time');
    this.graceTimer = setTimeout(() => {
      this.graceOver = true;
      this.maybePublish();
      void this.startApi();
    }, this.config.Watcher.StartupGraceMs);
    this.graceTimer.unref();
    this.maybePublish();
  }

  /**
   * Builds the API (Fastify) and the metrics (prom-client) on the bound port, once. Loading them
   * takes tens of milliseconds of the event loop, so it waits until the first publish has been
   * applied (or the start-up grace period is over): a request that comes earlier starts it at
   * once and is answered when it is ready.
   */
  private startApi(): Promise<void> {
    this.apiStarting ??= (async () => {
      const registry = await this.metrics.load();
      const { startApi } = await import('../api/server.js');
      if (this.stopped || !this.port) return;
      this.api = await startApi(
        {
          config: () => this.config,
          topology: this.topology,
          sentinels: () => this.watcher.sentinels(),
          clusterStatus: (name) => this.watcher.clusterStatus(name),
          outputs: () => this.outputStatuses(),
          haproxy: this.opts.flavour === 'consul' ? undefined : () => this.runners.find((r) => r.output.name === 'haproxy')?.output as unknown as HaproxyView | undefined,
          events: () => this.events,
          verification: () => this.verification(),
          readVerification: () => this.verification('read'),
          metrics: registry,
          stream: this.stream,
        },
        this.port,
      );
    })().catch((err: unknown) => this.opts.logger.error({ err: (err as Error).message }, 'the API could not start'));
    return this.apiStarting;
  }

  private published = false;
  /** Outputs initialised and the API port bound: the first publish may happen. */
  private outputsReady = false;
  private graceOver = false;
  private graceTimer: NodeJS.Timeout | null = null;

  /**
   * First publish to the outputs: as soon as every cluster is confirmed, or, once the start-up
   * grace period is over, with what is confirmed then (at least one cluster). With nothing
   * confirmed the outputs are left untouched, so a restart while the sentinels are unreachable
   * never empties HAProxy.
   */
  private maybePublish(): void {
    if (this.published || !this.outputsReady) return;
    const snapshot = this.topology.snapshot();
    const unconfirmed = snapshot.clusters.filter((c) => !c.master).map((c) => c.name);
    if (unconfirmed.length > 0 && !this.graceOver) return;
    if (unconfirmed.length === snapshot.clusters.length) {
      if (this.graceOver) this.opts.logger.warn('no master confirmed yet; outputs left untouched until one is');
      return;
    }
    if (unconfirmed.length) this.opts.logger.warn({ clusters: unconfirmed }, 'no confirmed master for some clusters after the start-up grace period; they are not presented until confirmed');
    this.published = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    for (const r of this.runners) r.submit(snapshot, []);
    void this.runnersIdle().then(() => this.startApi());
  }

  /** SIGHUP: re-read the file; keep running on the old configuration if anything is wrong. */
  reload(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = null));
    return this.reloading;
  }

  private async doReload(): Promise<boolean> {
    const log = this.opts.logger;
    let config: Config;
    try {
      const loaded = loadConfigFile(this.opts.configPath, this.opts.env ?? process.env, this.opts.flavour);
      config = loaded.config;
      for (const w of loaded.warnings) log.warn(w);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'configuration reload rejected; still running on the previous configuration');
      this.record({ type: 'config-reload', ok: false, error: (err as Error).message, at: new Date().toISOString() });
      return false;
    }
    let outputs: Output[];
    try {
      outputs = createOutputs(this.opts.flavour, config, log, () => this.sentinelsHealthy());
      await initOutputs(outputs);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'configuration reload rejected (output could not start); still running on the previous configuration');
      this.record({ type: 'config-reload', ok: false, error: (err as Error).message, at: new Date().toISOString() });
      return false;
    }
    const old = this.runners;
    for (const v of this.verifiers) v.close();
    this.runners = outputs.map((s) => this.newRunner(s, config));
    this.verifiers = this.takeVerifiers();
    await Promise.all(old.map((r) => r.close()));
    this.config = config;
    // The topology first: what the watcher confirms while it reconfigures lands in the new set of clusters.
    this.topology.reconfigure(clusterDefinitions(config));
    await this.watcher.reconfigure(config);
    // A removed cluster leaves no trace: its events go from the API and the status page too.
    const names = new Set(config.Clusters.map((c) => c.Name));
    const kept = (e: Record<string, unknown>) => typeof e.cluster !== 'string' || names.has(e.cluster);
    this.events = this.events.filter(kept);
    this.failovers = this.failovers.filter(kept);
    log.info({ clusters: config.Clusters.length, sentinels: config.Sentinels.length }, 'configuration reloaded');
    this.record({ type: 'config-reload', ok: true, at: new Date().toISOString() });
    return true;
  }

  runnersIdle(): Promise<void> {
    return Promise.all(this.runners.map((r) => r.idle())).then(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.stopped = true;
    this.stream.close();
    await this.api?.close();
    await this.port?.close();
    await this.watcher.stop();
    for (const v of this.verifiers) v.close();
    await Promise.all(this.runners.map((r) => r.close()));
  }
}
