import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { MasterChange, TopologySnapshot } from '../../topology/types.js';
import type { Output, OutputStatus } from '../types.js';
import type { HaproxySection } from './config.js';
import { buildTemplateData, sampleTemplateData, withAddresses, type TemplateData } from './render.js';
import { TemplateSource, describeTemplateError } from './template-source.js';
import { commitCandidate, discardCandidate, readIfExists, restoreFile, validateCandidate, writeAtomic, writeCandidate } from './apply-file.js';
import { describeShellFailure, runShell } from './shell.js';
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

type Outcome = 'unchanged' | 'runtime' | 'reloaded';

/** Shown in logs and errors instead of the whole output of a command. */
function firstLines(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

class HaproxyTemplateOutput implements HaproxyOutput {
  readonly name = 'haproxy';
  readonly settleMs: number;
  private readonly cfg: HaproxySection;
  private readonly log: Logger;
  private readonly clusterNames: string[] | undefined;
  private readonly source: TemplateSource;
  private readonly runtime: RuntimeClient | null;
  private loaded = false;
  /**
   * Set when a reload failed: we can no longer be sure what HAProxy runs, so the next apply
   * writes and reloads even if the file already matches.
   */
  private reloadOwed = false;
  private reportedTemplateProblem: string | null = null;

  private lastAppliedAt: string | null = null;
  private appliedVersion: number | null = null;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  private readonly counters = { renders: 0, writes: 0, reloads: 0, reloadFailures: 0, validationFailures: 0, runtimeSwitches: 0, runtimeFailures: 0 };
  private lastReloadAt: string | null = null;
  private lastReloadOutput: string | null = null;
  private lastValidationError: string | null = null;
  private lastRuntimeSwitchAt: string | null = null;
  private lastRuntimeError: string | null = null;
  private lastOutcome: Outcome | null = null;

  constructor(opts: HaproxyOutputOptions) {
    this.cfg = opts.config;
    this.settleMs = opts.config.ReloadSettleMs ?? 0;
    this.log = opts.logger;
    this.clusterNames = opts.clusterNames;
    this.source = new TemplateSource(this.cfg.TemplatePath, () => sampleTemplateData(this.clusterNames));
    this.runtime = this.cfg.RuntimeSocket ? new RuntimeClient(parseRuntimeSocket(this.cfg.RuntimeSocket), this.cfg.RuntimeTimeoutMs) : null;
  }

  /** Loads and checks the template. OutputPath is not touched (the original appended a space to it). */
  /** Next to OutputPath: present while a written file may not have been reloaded yet. */
  private get pendingMarker(): string {
    return join(dirname(this.cfg.OutputPath), `.${basename(this.cfg.OutputPath)}.redishappy-reload-pending`);
  }

  async init(): Promise<void> {
    await this.source.load();
    this.loaded = true;
    if (await access(this.pendingMarker).then(() => true, () => false)) {
      this.reloadOwed = true;
      this.log.warn({ outputPath: this.cfg.OutputPath }, 'a previous run wrote the HAProxy file but did not finish reloading; reloading at the first apply');
    }
    const dir = dirname(this.cfg.OutputPath);
    await access(dir).catch(() => this.log.warn({ dir }, 'the directory of HAProxy.OutputPath does not exist (yet); writing the file will fail until it does'));
    for (const name of Object.keys(this.cfg.Servers ?? {})) {
      if (this.clusterNames && !this.clusterNames.includes(name)) this.log.warn({ cluster: name }, 'HAProxy.Servers names a cluster that is not configured');
    }
    this.log.info(
      { template: this.cfg.TemplatePath, outputPath: this.cfg.OutputPath, runtimeSocket: this.runtime ? describeTarget(this.runtime.target) : null, validate: this.cfg.ValidateCommand !== '' },
      'HAProxy output ready',
    );
  }

  templateText(): string {
    return this.source.text;
  }

  renderedFile(): Promise<string> {
    return readFile(this.cfg.OutputPath, 'utf8');
  }

  async apply(snapshot: TopologySnapshot, changes: MasterChange[]): Promise<void> {
    if (!this.loaded) await this.init();
    await this.refreshTemplate();

    const { data, rejected } = buildTemplateData(snapshot, this.clusterNames);
    for (const r of rejected) this.log.error(r, 'master address is not safe to put in the HAProxy configuration; cluster left out');
    const text = this.render(data);

    let onDisk: string | null;
    try {
      onDisk = await readIfExists(this.cfg.OutputPath);
    } catch (err) {
      throw this.fail(`cannot read ${this.cfg.OutputPath}: ${(err as Error).message}`);
    }

    // The original reloaded on every event, changed or not. Never again.
    if (onDisk === text && !this.reloadOwed) {
      this.log.debug({ version: snapshot.version }, 'HAProxy configuration already up to date; nothing to do');
      this.succeeded(snapshot, 'unchanged');
      return;
    }

    if (this.runtime && onDisk !== null && !this.reloadOwed) {
      const plan = this.planLiveSwitch(data, changes, onDisk);
      if ('reason' in plan) {
        this.log.debug({ reason: plan.reason }, 'master switch needs a reload');
      } else if (await this.switchLive(plan.switches)) {
        // HAProxy already runs this; the file is written so a restart or later reload agrees.
        try {
          await writeAtomic(this.cfg.OutputPath, text);
        } catch (err) {
          throw this.fail(`HAProxy was switched live but ${this.cfg.OutputPath} could not be written: ${(err as Error).message}`);
        }
        this.counters.writes++;
        this.succeeded(snapshot, 'runtime');
        return;
      }
    }

    await this.replaceAndReload(text, onDisk);
    this.succeeded(snapshot, 'reloaded');
  }

  private async refreshTemplate(): Promise<void> {
    const { changed, problem } = await this.source.refresh();
    if (changed) this.log.info({ template: this.cfg.TemplatePath }, 'template changed on disk; using the new one');
    if (problem && problem !== this.reportedTemplateProblem) this.log.error({ template: this.cfg.TemplatePath, problem }, 'template edit not used');
    this.reportedTemplateProblem = problem;
  }

  private render(data: TemplateData): string {
    try {
      const text = this.source.template.execute(data);
      this.counters.renders++;
      return text;
    } catch (err) {
      throw this.fail(`rendering failed: ${describeTemplateError(err, this.cfg.TemplatePath)}`);
    }
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
      const [backend, server] = (this.cfg.Servers?.[change.cluster] ?? `bk_${change.cluster}/R_${change.cluster}_1`).split('/') as [string, string];
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
  private async switchLive(switches: LiveSwitch[]): Promise<boolean> {
    const runtime = this.runtime as RuntimeClient;
    const started = performance.now();
    try {
      for (const s of switches) {
        if (!(await runtime.serverState(s.backend, s.server))) throw new Error(`${s.backend}/${s.server} (cluster ${s.cluster}) does not exist in the running HAProxy`);
      }
      for (const s of switches) {
        await runtime.switchServer(s.backend, s.server, s.ip, s.port);
        this.counters.runtimeSwitches++;
        this.lastRuntimeSwitchAt = new Date().toISOString();
        this.log.info({ cluster: s.cluster, server: `${s.backend}/${s.server}`, ip: s.ip, port: s.port }, 'HAProxy switched to the new master live; old sessions cut');
      }
      this.log.debug({ ms: Math.round(performance.now() - started) }, 'live switch done');
      return true;
    } catch (err) {
      this.counters.runtimeFailures++;
      this.lastRuntimeError = (err as Error).message;
      this.log.warn({ err: this.lastRuntimeError }, 'live switch through the HAProxy runtime API failed; falling back to validate, write and reload');
      return false;
    }
  }

  /** Candidate → validate → rename → reload; on reload failure the previous file is put back. */
  private async replaceAndReload(text: string, previous: string | null): Promise<void> {
    const path = this.cfg.OutputPath;
    let candidate;
    try {
      candidate = await writeCandidate(path, text);
    } catch (err) {
      throw this.fail(`cannot write a new ${path}: ${(err as Error).message}`);
    }

    if (this.cfg.ValidateCommand.trim() !== '') {
      const v = await validateCandidate(this.cfg.ValidateCommand, candidate, this.cfg.ValidateTimeoutMs);
      if (!v.ok) {
        await discardCandidate(candidate);
        this.counters.validationFailures++;
        this.lastValidationError = v.output || describeShellFailure(v, this.cfg.ValidateTimeoutMs);
        this.log.error({ output: firstLines(v.output), result: describeShellFailure(v, this.cfg.ValidateTimeoutMs) }, 'HAProxy rejected the new configuration; the current file is kept');
        throw this.fail(`HAProxy rejected the new configuration (validate command ${describeShellFailure(v, this.cfg.ValidateTimeoutMs)}): ${firstLines(v.output) || 'no output'}`);
      }
    }

    // A marker survives a crash between the rename and the end of the reload, so the next start
    // knows HAProxy may still run the previous file and reloads even though the file matches.
    await writeFile(this.pendingMarker, `${new Date().toISOString()}\n`).catch(() => undefined);
    try {
      await commitCandidate(candidate);
    } catch (err) {
      throw this.fail(`cannot replace ${path}: ${(err as Error).message}`);
    }
    this.counters.writes++;

    const r = await runShell(this.cfg.ReloadCommand, this.cfg.ReloadTimeoutMs);
    this.lastReloadOutput = r.output;
    if (r.ok) {
      this.counters.reloads++;
      this.lastReloadAt = new Date().toISOString();
      this.reloadOwed = false;
      await rm(this.pendingMarker, { force: true }).catch(() => undefined);
      this.log.info({ outputPath: path, ms: r.durationMs, output: r.output ? firstLines(r.output) : undefined }, 'HAProxy configuration written and reloaded');
      return;
    }

    this.counters.reloadFailures++;
    this.reloadOwed = true;
    const why = describeShellFailure(r, this.cfg.ReloadTimeoutMs);
    let restored = 'the previous file was put back';
    try {
      await restoreFile(path, previous);
    } catch (err) {
      restored = `putting the previous file back failed too: ${(err as Error).message}`;
    }
    this.log.error({ result: why, output: firstLines(r.output), ms: r.durationMs }, `HAProxy reload command failed; ${restored}`);
    throw this.fail(`reload command ${why}${r.output ? `: ${firstLines(r.output)}` : ''} (${restored})`);
  }

  private succeeded(snapshot: TopologySnapshot, outcome: Outcome): void {
    this.lastOutcome = outcome;
    this.appliedVersion = snapshot.version;
    this.lastAppliedAt = new Date().toISOString();
    // A template edit that could not be used stays visible while we keep running on the old one.
    this.lastError = this.source.problem;
    this.lastErrorAt = this.lastError ? this.lastAppliedAt : null;
  }

  private fail(message: string): Error {
    this.lastError = message;
    this.lastErrorAt = new Date().toISOString();
    return new Error(message);
  }

  status(): OutputStatus {
    return {
      name: this.name,
      lastAppliedAt: this.lastAppliedAt,
      appliedVersion: this.appliedVersion,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      details: {
        ...this.counters,
        templatePath: this.cfg.TemplatePath,
        outputPath: this.cfg.OutputPath,
        runtimeSocket: this.runtime ? describeTarget(this.runtime.target) : null,
        lastOutcome: this.lastOutcome,
        lastReloadAt: this.lastReloadAt,
        lastReloadOutput: this.lastReloadOutput,
        lastValidationError: this.lastValidationError,
        lastRuntimeSwitchAt: this.lastRuntimeSwitchAt,
        lastRuntimeError: this.lastRuntimeError,
        templateProblem: this.source.problem,
        reloadOwed: this.reloadOwed,
      },
    };
  }

  async close(): Promise<void> {
    // Nothing held open: runtime connections and commands live only for the duration of an apply.
  }
}
