import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { MasterChange, TopologySnapshot } from '../../topology/types.js';
import type { FrontDoor, Output, OutputStatus } from '../types.js';
import { doorPorts } from '../verify-fields.js';
import { buildTemplateData, sampleTemplateData, type TemplateData } from './data.js';
import { TemplateSource, describeTemplateError } from './template-source.js';
import { cleanStaleCandidates, discardCandidate, firstLines, renameCandidate, restoreFile, syncDirOf, validateCandidate, writeAtomic, writeCandidate } from './apply-file.js';
import { KnownFile } from './known-file.js';
import { Prevalidator } from './prevalidate.js';
import type { FileOutputConfig } from './config.js';
import { describeShellFailure, runShell } from './shell.js';
import { ValidationCache } from './validation-cache.js';

/**
 * The pipeline every template output shares (HAProxy, nginx, a plain file): render the WHOLE
 * state, do nothing when the file already says that, write a candidate beside the file, validate
 * it, fsync + rename it into place, reload with a deadline, put the previous file back (if there
 * was one) when the reload fails, and keep a pending-reload marker across a crash. Subclasses add extras by
 * overriding `applyLive` (HAProxy's runtime API) and `extraDetails`. What runs between applies
 * (validating and staging likely next files) is the Prevalidator's (prevalidate.ts): this class
 * only tells it when an apply starts and succeeds, and takes a staged file when one fits.
 */

export interface FileOutputOptions {
  /** Output name in logs, metrics and the API. */
  name: string;
  /** How logs and errors name the thing (e.g. "HAProxy", "template output nginx"). */
  label: string;
  /** Config path of the section, for messages ("HAProxy", "Templates[1]"). */
  section: string;
  config: FileOutputConfig;
  logger: Logger;
  /** The configured clusters; a snapshot taken before a config reload is filtered to these. */
  clusterNames?: string[];
}

export type Outcome = 'unchanged' | 'runtime' | 'reloaded' | 'written';

/**
 * After a reload, how long the previous configuration may still take new connections: nginx's
 * reload returns, then its old workers keep accepting for about 100 ms (measured: 98-101 ms), and
 * a check that happens to land on a new worker then proves nothing. Checked only after this.
 */
export const RELOAD_SETTLE_MS = 250;

const round1 = (n: number) => Math.round(n * 10) / 10;

export class TemplateFileOutput implements Output {
  readonly name: string;
  readonly settleMs: number;
  protected readonly cfg: FileOutputConfig;
  protected readonly log: Logger;
  protected readonly label: string;
  protected readonly section: string;
  protected readonly clusterNames: string[] | undefined;
  protected readonly source: TemplateSource;
  private readonly cache: ValidationCache | null;
  /** Null when validation is off, the cache is off or Prevalidate is false. */
  private readonly prevalidator: Prevalidator | null;
  /** OutputPath as last read, kept while its stat holds (known-file.ts). */
  private readonly disk: KnownFile;
  /** Re-reading OutputPath after a write of ours, in the background (close() waits for it). */
  private rereading: Promise<void> = Promise.resolve();
  private loaded = false;
  /**
   * Set when a reload failed: we can no longer be sure what the proxy runs, so the next apply
   * writes and reloads even if the file already matches.
   */
  protected reloadOwed = false;
  private reportedTemplateProblem: string | null = null;

  private lastAppliedAt: string | null = null;
  private appliedVersion: number | null = null;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  protected readonly counters = { renders: 0, writes: 0, reloads: 0, reloadFailures: 0, validations: 0, validationFailures: 0, validationCacheHits: 0, prevalidations: 0, stagedUsed: 0 };
  private lastReloadAt: string | null = null;
  private lastReloadOutput: string | null = null;
  private lastValidationError: string | null = null;
  private lastOutcome: Outcome | null = null;
  /** The data of the last successful apply: what the proxy runs (HAProxy's live plan starts from it). */
  protected lastData: TemplateData | null = null;
  /** ms from the start of the apply to the start of the reload command, last apply that reloaded. */
  private lastApplyToReloadMs: number | null = null;

  constructor(opts: FileOutputOptions) {
    this.name = opts.name;
    this.label = opts.label;
    this.section = opts.section;
    this.cfg = opts.config;
    this.settleMs = opts.config.ReloadSettleMs ?? 0;
    this.log = opts.logger;
    this.clusterNames = opts.clusterNames;
    this.source = new TemplateSource(this.cfg.TemplatePath, () => sampleTemplateData(this.clusterNames, this.cfg.ReadSlots));
    this.cache = this.cfg.ValidateCommand.trim() !== '' && this.cfg.ValidateCache !== false ? new ValidationCache() : null;
    this.disk = new KnownFile(this.cfg.OutputPath);
    this.prevalidator =
      this.cache && this.cfg.Prevalidate !== false
        ? new Prevalidator({ config: this.cfg, cache: this.cache, source: this.source, logger: this.log, counted: () => this.counters.prevalidations++ })
        : null;
  }

  /** Next to OutputPath: present while a written file may not have been reloaded yet. */
  protected get pendingMarker(): string {
    return join(dirname(this.cfg.OutputPath), `.${basename(this.cfg.OutputPath)}.redishappy-reload-pending`);
  }

  /** Loads and checks the template. OutputPath is not touched (the original appended a space to it). */
  async init(): Promise<void> {
    await this.source.load();
    this.loaded = true;
    if (await access(this.pendingMarker).then(() => true, () => false)) {
      this.reloadOwed = true;
      this.log.warn({ outputPath: this.cfg.OutputPath }, `a previous run wrote the ${this.label} file but did not finish reloading; reloading at the first apply`);
    }
    const dir = dirname(this.cfg.OutputPath);
    await access(dir).catch(() => this.log.warn({ dir }, `the directory of ${this.section}.OutputPath does not exist (yet); writing the file will fail until it does`));
    const stale = await cleanStaleCandidates(this.cfg.OutputPath).catch(() => []);
    if (stale.length) this.log.warn({ removed: stale }, 'removed candidate files left by a run that died mid-apply');
  }

  templateText(): string {
    return this.source.text;
  }

  renderedFile(): Promise<string> {
    return readFile(this.cfg.OutputPath, 'utf8');
  }

  async apply(snapshot: TopologySnapshot, changes: MasterChange[]): Promise<void> {
    const started = performance.now();
    this.prevalidator?.applyStarted();
    if (!this.loaded) await this.init();
    // The file on disk is read while the template is checked: both wait on the disk thread pool,
    // and in a failover both stand between the confirmation and the switch (one wait, not two;
    // 0.5-35 ms each on a loaded host, bench/README.md). Only an apply writes the file, one at a time.
    const reading = this.disk.read().then(
      (text) => ({ text }),
      (err: Error) => ({ err }),
    );
    await this.refreshTemplate();
    const tRefreshed = performance.now();

    const { data, rejected } = buildTemplateData(snapshot, this.clusterNames, this.cfg.ReadSlots);
    for (const r of rejected) this.log.error(r, `master address is not safe to put in the ${this.label} configuration; cluster left out`);
    for (const c of changes) if (c.previous) this.prevalidator?.rememberPastMaster(c.cluster, c.previous);
    const text = this.render(data);

    const read = await reading;
    if ('err' in read) throw this.fail(`cannot read ${this.cfg.OutputPath}: ${read.err.message}`);
    const onDisk = read.text;

    // The original reloaded on every event, changed or not. Never again.
    if (onDisk === text && !this.reloadOwed) {
      this.log.debug({ version: snapshot.version }, `${this.label} configuration already up to date; nothing to do`);
      this.succeeded(snapshot, 'unchanged', data);
      return;
    }

    const tRead = performance.now();
    if (onDisk !== null && !this.reloadOwed && (await this.applyLive(data, changes, onDisk))) {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ refreshMs: round1(tRefreshed - started), renderAndReadMs: round1(tRead - tRefreshed), liveMs: round1(performance.now() - tRead) }, 'apply phases (live)');
      // The proxy already runs this; the file is written so a restart or later reload agrees.
      try {
        await writeAtomic(this.cfg.OutputPath, text);
        this.reread();
      } catch (err) {
        throw this.fail(`${this.label} was switched live but ${this.cfg.OutputPath} could not be written: ${(err as Error).message}`);
      }
      this.counters.writes++;
      this.succeeded(snapshot, 'runtime', data);
      return;
    }

    const reloaded = await this.replaceAndReload(text, onDisk, started);
    this.succeeded(snapshot, reloaded ? 'reloaded' : 'written', data);
  }

  /**
   * Extra fast path (HAProxy's runtime API). Returns true when the running proxy now has the new
   * state, so only the file remains to be written; false to go through validate + reload.
   */
  protected applyLive(_data: TemplateData, _changes: MasterChange[], _onDisk: string): Promise<boolean> {
    return Promise.resolve(false);
  }

  protected extraDetails(): Record<string, unknown> {
    return {};
  }

  /**
   * Clients connect to 127.0.0.1:<ExternalPort> unless Verify says otherwise; a file nothing
   * reloads has no door by default. Read doors (127.0.0.1:<ExternalReadPort>, same Host and TLS)
   * are checked when the template uses .ExternalReadPort: a template that never mentions it binds
   * no read port, and another output (or nothing) serves it.
   */
  frontDoor(): FrontDoor {
    const v = this.cfg.Verify;
    if (v === false) return { kind: 'off', reason: `${this.section}.Verify is false` };
    if (v === undefined && this.cfg.ReloadCommand.trim() === '') return { kind: 'off', reason: `${this.section} has no ReloadCommand (a file for scripts, no proxy to connect through); set ${this.section}.Verify to check one` };
    const door = typeof v === 'object' ? v : {};
    const live = this.lastOutcome === 'runtime' || this.lastOutcome === 'unchanged';
    return {
      kind: 'proxy',
      host: door.Host ?? '127.0.0.1',
      ports: doorPorts(v, this.clusterNames ?? []),
      reads: this.servesReads(),
      tls: door.Tls,
      settleMs: live ? 0 : RELOAD_SETTLE_MS,
      intervalMs: this.cfg.VerifyIntervalMs ?? 10_000,
      retries: this.cfg.VerifyRetries ?? 3,
    };
  }

  /** The template (the one in use, once loaded) binds read ports: it mentions .ExternalReadPort. */
  protected servesReads(): boolean {
    return this.loaded && /\bExternalReadPort\b/.test(this.source.text);
  }

  /** Verification found clients reach another instance: the next apply writes and reloads even if the file matches. */
  forget(_clusters: readonly string[]): void {
    this.reloadOwed = true;
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
   * Candidate → validate → rename → reload; on reload failure the previous file is put back (the
   * new one stays when there was none). Returns whether a reload ran.
   */
  private async replaceAndReload(text: string, previous: string | null, started: number): Promise<boolean> {
    const path = this.cfg.OutputPath;
    let candidate = (await this.prevalidator?.take(text)) ?? null;
    if (candidate) {
      this.counters.stagedUsed++;
    } else {
      try {
        candidate = await writeCandidate(path, text);
      } catch (err) {
        throw this.fail(`cannot write a new ${path}: ${(err as Error).message}`);
      }
    }

    if (this.cfg.ValidateCommand.trim() !== '') {
      const templateText = this.source.text;
      const known = this.cache ? await this.cache.passed(this.cfg.ValidateCommand, templateText, text) : false;
      if (known) {
        this.counters.validationCacheHits++;
        this.log.debug('these exact bytes already passed the validate command; not validating again');
      } else {
        const v = await validateCandidate(this.cfg.ValidateCommand, candidate, this.cfg.ValidateTimeoutMs);
        this.counters.validations++;
        if (!v.ok) {
          await discardCandidate(candidate);
          this.counters.validationFailures++;
          this.lastValidationError = v.output || describeShellFailure(v, this.cfg.ValidateTimeoutMs);
          this.log.error({ output: firstLines(v.output), result: describeShellFailure(v, this.cfg.ValidateTimeoutMs) }, `${this.label} rejected the new configuration; the current file is kept`);
          throw this.fail(`${this.label} rejected the new configuration (validate command ${describeShellFailure(v, this.cfg.ValidateTimeoutMs)}): ${firstLines(v.output) || 'no output'}`);
        }
        this.cache?.add(this.cfg.ValidateCommand, templateText, text);
      }
    }

    const reload = this.cfg.ReloadCommand.trim() !== '';
    // A marker survives a crash between the rename and the end of the reload, so the next start
    // knows the proxy may still run the previous file and reloads even though the file matches.
    if (reload) await writeFile(this.pendingMarker, `${new Date().toISOString()}\n`).catch(() => undefined);
    try {
      await renameCandidate(candidate);
      this.reread();
    } catch (err) {
      throw this.fail(`cannot replace ${path}: ${(err as Error).message}`);
    }
    this.counters.writes++;
    // The reload needs only the rename; the directory fsync (the rename surviving a power loss)
    // runs alongside it, and the apply finishes when both have.
    const dirSynced = syncDirOf(candidate);
    if (!reload) {
      await dirSynced;
      this.reloadOwed = false;
      // Nothing to reload: a marker left by an earlier run (with a ReloadCommand then) is stale.
      await rm(this.pendingMarker, { force: true }).catch(() => undefined);
      this.log.info({ outputPath: path }, `${this.label} file written`);
      return false;
    }

    this.lastApplyToReloadMs = Math.round(performance.now() - started);
    const [r] = await Promise.all([runShell(this.cfg.ReloadCommand, this.cfg.ReloadTimeoutMs), dirSynced]);
    this.lastReloadOutput = r.output;
    if (r.ok) {
      this.counters.reloads++;
      this.lastReloadAt = new Date().toISOString();
      this.reloadOwed = false;
      await rm(this.pendingMarker, { force: true }).catch(() => undefined);
      this.log.info({ outputPath: path, ms: r.durationMs, beforeReloadMs: this.lastApplyToReloadMs, output: r.output ? firstLines(r.output) : undefined }, `${this.label} configuration written and reloaded`);
      return true;
    }

    this.counters.reloadFailures++;
    this.reloadOwed = true;
    const why = describeShellFailure(r, this.cfg.ReloadTimeoutMs);
    // With a previous file, putting it back keeps the disk equal to what the proxy still runs.
    // Without one (first install: the proxy typically is not running yet, so its reload fails),
    // there is nothing to go back to: the new file passed validation and stays, so the proxy can
    // be started with it; the reload stays owed (marker kept) and is retried. A retry of that
    // reload finds the same file in place: it stays too.
    let restored: string;
    if (previous === null) {
      restored = 'the new file stays (there was no previous file); reload retried';
    } else if (previous === text) {
      restored = 'the file already held this content and stays; reload retried';
    } else {
      restored = 'the previous file was put back';
      try {
        await restoreFile(path, previous);
        this.reread();
      } catch (err) {
        restored = `putting the previous file back failed too: ${(err as Error).message}`;
      }
    }
    this.log.error({ result: why, output: firstLines(r.output), ms: r.durationMs }, `${this.label} reload command failed; ${restored}`);
    throw this.fail(`reload command ${why}${r.output ? `: ${firstLines(r.output)}` : ''} (${restored})`);
  }

  /** Resolves when background pre-validation has finished (tests, benchmarks). */
  async prevalidationIdle(): Promise<void> {
    await this.prevalidator?.idle();
  }

  private succeeded(snapshot: TopologySnapshot, outcome: Outcome, data: TemplateData): void {
    this.lastOutcome = outcome;
    this.lastData = data;
    this.appliedVersion = snapshot.version;
    this.lastAppliedAt = new Date().toISOString();
    // A template edit that could not be used stays visible while we keep running on the old one.
    this.lastError = this.source.problem;
    this.lastErrorAt = this.lastError ? this.lastAppliedAt : null;
    this.prevalidator?.schedule(data);
  }

  protected fail(message: string): Error {
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
        lastOutcome: this.lastOutcome,
        lastReloadAt: this.lastReloadAt,
        lastReloadOutput: this.lastReloadOutput,
        lastValidationError: this.lastValidationError,
        lastApplyToReloadMs: this.lastApplyToReloadMs,
        templateProblem: this.source.problem,
        reloadOwed: this.reloadOwed,
        ...this.extraDetails(),
      },
    };
  }

  /**
   * After a write of ours: read the file back in the background, so the next failover finds it
   * known (a stat instead of a read before its live switch). Off the path of this apply.
   */
  private reread(): void {
    this.rereading = this.rereading.then(() => this.disk.refresh()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.rereading;
    await this.prevalidator?.close();
  }
}
