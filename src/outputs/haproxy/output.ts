import type { Logger } from 'pino';
import type { MasterChange } from '../../topology/types.js';
import type { Output } from '../types.js';
import type { HaproxySection } from './config.js';
import type { TemplateData } from '../file/data.js';
import { TemplateFileOutput } from '../file/file-output.js';
import { RuntimeClient, describeTarget, parseRuntimeSocket } from './runtime.js';
import { planLive, type LiveSwitch, type SlotUpdate } from './live-plan.js';

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


/**
 * The HAProxy output: the shared file pipeline (src/outputs/file) plus HAProxy's
 * extras: a master switch applied live through the runtime API (with the old sessions cut)
 * when only master addresses changed, the file then written so a later reload agrees.
 */
class HaproxyTemplateOutput extends TemplateFileOutput implements HaproxyOutput {
  private readonly hcfg: HaproxySection;
  private readonly runtime: RuntimeClient | null;
  private readonly runtimeCounters = { runtimeSwitches: 0, runtimeSlotUpdates: 0, runtimeFailures: 0 };
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
    const plan = planLive({ data, changes, onDisk, running: this.lastData, servers: this.hcfg.Servers, render: (d) => this.source.template.execute(d) });
    if ('reason' in plan) {
      if (plan.warn) this.log.warn({ reason: plan.reason }, 'read pool larger than its HAProxy server slots: applying it with a reload (raise HAProxy.ReadSlots)');
      else this.log.debug({ reason: plan.reason }, 'change needs a reload');
      return false;
    }
    return this.switchLive(plan.switches, plan.slots, changes);
  }

  protected override extraDetails(): Record<string, unknown> {
    return {
      ...this.runtimeCounters,
      runtimeSocket: this.runtime ? describeTarget(this.runtime.target) : null,
      lastRuntimeSwitchAt: this.lastRuntimeSwitchAt,
      lastRuntimeError: this.lastRuntimeError,
    };
  }

  /** True when every server was switched; false (after logging why) to fall back to a reload. */
  private async switchLive(wanted: LiveSwitch[], slots: SlotUpdate[], changes: MasterChange[]): Promise<boolean> {
    const runtime = this.runtime as RuntimeClient;
    const started = performance.now();
    // For the failover timeline (debug): how long the change took from its confirmation to the first runtime command.
    const confirmed = changes.length > 0 ? Math.max(...changes.map((c) => Date.parse(c.confirmedAt))) : Date.now();
    const sinceConfirmedMs = Date.now() - confirmed;
    try {
      // Every server must exist before any moves (none switched rather than some). A single master
      // switch with nothing else needs no extra round trip: its own `set server` says so before
      // anything changed. An optional server (the read backup) is skipped when missing.
      const single = wanted.length === 1 && slots.length === 0 && !wanted[0]!.optional;
      const switches: LiveSwitch[] = [];
      for (const s of wanted) {
        if (single || (await runtime.serverState(s.backend, s.server))) switches.push(s);
        else if (!s.optional) throw new Error(`${s.backend}/${s.server} (cluster ${s.cluster}) does not exist in the running HAProxy`);
      }
      for (const s of slots) {
        if (!(await runtime.serverState(s.backend, s.server))) throw new Error(`read slot ${s.backend}/${s.server} (cluster ${s.cluster}) does not exist in the running HAProxy`);
      }
      // Masters first: that is what a failover's clients wait for; the read slots follow.
      for (const s of switches) {
        await runtime.switchServer(s.backend, s.server, s.ip, s.port);
        this.runtimeCounters.runtimeSwitches++;
        this.lastRuntimeSwitchAt = new Date().toISOString();
        this.log.info({ cluster: s.cluster, server: `${s.backend}/${s.server}`, ip: s.ip, port: s.port }, 'HAProxy switched to the new master live; old sessions cut');
      }
      // Fill before emptying, so a pool that changes members never has a moment with none.
      for (const s of [...slots.filter((x) => x.ready), ...slots.filter((x) => !x.ready)]) {
        await runtime.setSlot(s.backend, s.server, s.ready, s.ip, s.port);
        this.runtimeCounters.runtimeSlotUpdates++;
        this.lastRuntimeSwitchAt = new Date().toISOString();
        this.log.info({ cluster: s.cluster, server: `${s.backend}/${s.server}`, replica: s.ready ? `${s.ip}:${s.port}` : null }, s.ready ? 'HAProxy read slot serves a replica (live)' : 'HAProxy read slot emptied (live)');
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
