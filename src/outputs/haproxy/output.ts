import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { MasterChange } from '../../topology/types.js';
import type { Output } from '../types.js';
import type { HaproxySection } from './config.js';
import { withAddresses, type TemplateData } from '../file/data.js';
import { TemplateFileOutput } from '../file/file-output.js';
import { RuntimeClient, assertSafeWord, describeTarget, parseRuntimeSocket } from './runtime.js';

export interface HaproxyOutput extends Output {
  /** The template text currently in use (the last one that parsed). */
  templateText(): string;
  /** OutputPath as it is on disk now. */
  renderedFile(): Promise<string>;
}

export interface HaproxyOutputOptions {
  config: HaproxySection;
  logger: Logger;
  /** The configured clusters; a snapshot taken before a config reload is filtered to these. */
  clusterNames?: string[];
}

export function createHaproxyOutput(opts: HaproxyOutputOptions): HaproxyOutput {
  return new HaproxyTemplateOutput(opts);
}

interface LiveSwitch {
  cluster: string;
  backend: string;
  server: string;
  ip: string;
  port: number;
}

/**
 * The HAProxy output: the shared file pipeline (src/outputs/file) plus HAProxy's
 * extras: a master switch applied live through the runtime API (with the old sessions cut)
 * when only master addresses changed, the file then written so a later reload agrees.
 */
class HaproxyTemplateOutput extends TemplateFileOutput implements HaproxyOutput {
  private readonly hcfg: HaproxySection;
  private readonly runtime: RuntimeClient | null;
  private readonly runtimeCounters = { runtimeSwitches: 0, runtimeFailures: 0 };
  private lastRuntimeSwitchAt: string | null = null;
  private lastRuntimeError: string | null = null;

  constructor(opts: HaproxyOutputOptions) {
    super({ name: 'haproxy', label: 'HAProxy', section: 'HAProxy', config: opts.config, logger: opts.logger, clusterNames: opts.clusterNames });
    this.hcfg = opts.config;
    this.runtime = this.hcfg.RuntimeSocket ? new RuntimeClient(parseRuntimeSocket(this.hcfg.RuntimeSocket), this.hcfg.RuntimeTimeoutMs) : null;
  }

  override async init(): Promise<void> {
    await super.init();
    for (const name of Object.keys(this.hcfg.Servers ?? {})) {
      if (this.clusterNames && !this.clusterNames.includes(name)) this.log.warn({ cluster: name }, 'HAProxy.Servers names a cluster that is not configured');
    }
    this.log.info(
      { template: this.hcfg.TemplatePath, outputPath: this.hcfg.OutputPath, runtimeSocket: this.runtime ? describeTarget(this.runtime.target) : null, validate: this.hcfg.ValidateCommand !== '' },
      'HAProxy output ready',
    );
  }

  protected override async applyLive(data: TemplateData, changes: MasterChange[], onDisk: string): Promise<boolean> {
    if (!this.runtime) return false;
    const plan = this.planLiveSwitch(data, changes, onDisk);
    if ('reason' in plan) {
      this.log.debug({ reason: plan.reason }, 'master switch needs a reload');
      return false;
    }
    return this.switchLive(plan.switches, changes);
  }

  protected override extraDetails(): Record<string, unknown> {
    return {
      ...this.runtimeCounters,
      runtimeSocket: this.runtime ? describeTarget(this.runtime.target) : null,
      lastRuntimeSwitchAt: this.lastRuntimeSwitchAt,
      lastRuntimeError: this.lastRuntimeError,
    };
  }

  /**
   * A live switch is only right when the running HAProxy differs from the target in master
   * addresses alone: rendering the new state with each changed cluster's PREVIOUS master must
   * give exactly the file on disk (which is what HAProxy runs). A template edit, a cluster that
   * appears or goes, or anything else the template shows forces the file + reload path.
   */
  private planLiveSwitch(data: TemplateData, changes: MasterChange[], onDisk: string): { switches: LiveSwitch[] } | { reason: string } {
    if (changes.length === 0) return { reason: 'no master change to apply live' };
    const previous = new Map<string, { ip: string; port: number }>();
    const switches: LiveSwitch[] = [];
    for (const change of changes) {
      const now = data.Clusters.find((c) => c.Name === change.cluster);
      if (!now) return { reason: `cluster ${change.cluster} is not presented` };
      if (!change.previous) return { reason: `cluster ${change.cluster} had no master before (new frontend)` };
      if (change.previous.ip === now.Ip && change.previous.port === now.Port) continue;
      if (!isIP(now.Ip)) return { reason: `${now.Ip} is not an IP address` };
      const [backend, server] = (this.hcfg.Servers?.[change.cluster] ?? `bk_${change.cluster}/R_${change.cluster}_1`).split('/') as [string, string];
      try {
        assertSafeWord('backend', backend);
        assertSafeWord('server', server);
        assertSafeWord('address', now.Ip);
      } catch (err) {
        return { reason: (err as Error).message };
      }
      previous.set(change.cluster, change.previous);
      switches.push({ cluster: change.cluster, backend, server, ip: now.Ip, port: now.Port });
    }
    if (switches.length === 0) return { reason: 'no address changed' };
    let running: string;
    try {
      running = this.source.template.execute(withAddresses(data, previous));
    } catch {
      return { reason: 'the template does not render the previous state' };
    }
    if (running !== onDisk) return { reason: 'the configuration differs by more than the master addresses' };
    return { switches };
  }

  /** True when every server was switched; false (after logging why) to fall back to a reload. */
  private async switchLive(switches: LiveSwitch[], changes: MasterChange[]): Promise<boolean> {
    const runtime = this.runtime as RuntimeClient;
    const started = performance.now();
    // For the failover timeline (debug): how long the change took from its confirmation to the first runtime command.
    const confirmed = Math.max(...changes.map((c) => Date.parse(c.confirmedAt)));
    const sinceConfirmedMs = Date.now() - confirmed;
    try {
      // Several servers: all must exist before any moves (none switched rather than some). One
      // server needs no extra round trip: its own `set server` says so, before anything changed.
      if (switches.length > 1) {
        for (const s of switches) {
          if (!(await runtime.serverState(s.backend, s.server))) throw new Error(`${s.backend}/${s.server} (cluster ${s.cluster}) does not exist in the running HAProxy`);
        }
      }
      for (const s of switches) {
        await runtime.switchServer(s.backend, s.server, s.ip, s.port);
        this.runtimeCounters.runtimeSwitches++;
        this.lastRuntimeSwitchAt = new Date().toISOString();
        this.log.info({ cluster: s.cluster, server: `${s.backend}/${s.server}`, ip: s.ip, port: s.port }, 'HAProxy switched to the new master live; old sessions cut');
      }
      this.log.debug({ ms: Math.round(performance.now() - started), sinceConfirmedMs }, 'live switch done');
      return true;
    } catch (err) {
      this.runtimeCounters.runtimeFailures++;
      this.lastRuntimeError = (err as Error).message;
      this.log.warn({ err: this.lastRuntimeError }, 'live switch through the HAProxy runtime API failed; falling back to validate, write and reload');
      return false;
    }
  }

}
