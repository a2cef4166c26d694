import type { Logger } from 'pino';
import { withAddresses, type TemplateData } from './data.js';
import type { TemplateSource } from './template-source.js';
import { candidateHolds, discardCandidate, firstLines, validateCandidate, writeCandidate, type Candidate } from './apply-file.js';
import type { ValidationCache } from './validation-cache.js';
import type { FileOutputConfig } from './config.js';

/**
 * Work done while idle so that a failover's apply has less to do: the files the next failover
 * would most likely need are rendered, validated (into the validation cache) and kept written
 * beside the output as fsynced `.next` candidates, so that failover only renames one into place.
 * Kept apart from the apply pipeline because it runs in the background, on its own schedule, and
 * must give way to every apply: anything it prepared for a state the output moved past is thrown
 * away, and nothing here ever touches the live file.
 */

/** Most alternative files pre-validated after one apply (each costs one validate command). */
const MAX_PREVALIDATE = 16;
/** Previous masters remembered per cluster as likely next masters (a fail-back). */
const MAX_PAST_MASTERS = 4;

export interface PrevalidatorOptions {
  /** The validate command, its timeout and the output file the candidates are written beside. */
  config: Pick<FileOutputConfig, 'ValidateCommand' | 'ValidateTimeoutMs' | 'OutputPath'>;
  /** Shared with the apply pipeline: what is validated here is a cache hit there. */
  cache: ValidationCache;
  /** The output's template; read at each run, so a template edit is picked up. */
  source: TemplateSource;
  logger: Logger;
  /** Called once per validate command run in the background (the output's `prevalidations` counter). */
  counted: () => void;
}

export class Prevalidator {
  private readonly cfg: PrevalidatorOptions['config'];
  private readonly cache: ValidationCache;
  private readonly source: TemplateSource;
  private readonly log: Logger;
  private readonly counted: () => void;
  /** Bumped by every apply: background pre-validation stops when it changes. */
  private applyGeneration = 0;
  private prevalidating: Promise<void> | null = null;
  private closed = false;
  private readonly pastMasters = new Map<string, Array<{ ip: string; port: number }>>();
  /**
   * Likely next files, validated and already written (fsynced) beside the output as `.next`
   * candidates: a failover to one of them only renames it into place. Text → candidate.
   */
  private readonly staged = new Map<string, Candidate>();

  constructor(opts: PrevalidatorOptions) {
    this.cfg = opts.config;
    this.cache = opts.cache;
    this.source = opts.source;
    this.log = opts.logger;
    this.counted = opts.counted;
  }

  /** An apply started: whatever runs in the background for the previous state stops at its next step. */
  applyStarted(): void {
    this.applyGeneration++;
  }

  rememberPastMaster(cluster: string, master: { ip: string; port: number }): void {
    const list = (this.pastMasters.get(cluster) ?? []).filter((m) => m.ip !== master.ip || m.port !== master.port);
    list.unshift({ ip: master.ip, port: master.port });
    this.pastMasters.set(cluster, list.slice(0, MAX_PAST_MASTERS));
  }

  /**
   * The files a next failover would most likely need: for each cluster, the current state with
   * one of its replicas (or a master it had before) as master. Validated in the background while
   * idle so that the failover finds its bytes already validated.
   */
  likelyNextFiles(data: TemplateData): string[] {
    const out: string[] = [];
    for (const c of data.Clusters) {
      const candidates = [...c.Replicas.map((r) => ({ ip: r.Ip, port: r.Port })), ...(this.pastMasters.get(c.Name) ?? [])];
      for (const next of candidates) {
        if (next.ip === c.Ip && next.port === c.Port) continue;
        try {
          const text = this.source.template.execute(withAddresses(data, new Map([[c.Name, next]])));
          if (!out.includes(text)) out.push(text);
        } catch {
          // The template cannot render that state; nothing to prepare.
        }
        if (out.length >= MAX_PREVALIDATE) return out;
      }
    }
    return out;
  }

  /** After an apply succeeded with `data`: prepare its likely next files, after any run still going. */
  schedule(data: TemplateData): void {
    if (this.closed) return;
    const generation = this.applyGeneration;
    const templateText = this.source.text;
    const previous = this.prevalidating ?? Promise.resolve();
    this.prevalidating = previous.then(async () => {
      const likely = this.likelyNextFiles(data);
      // Staged files for states no longer likely (the state moved on) are removed first.
      for (const [text, c] of [...this.staged]) {
        // Checked right before deleting: an apply may have taken this one meanwhile.
        if (likely.includes(text) || this.staged.get(text) !== c) continue;
        this.staged.delete(text);
        await discardCandidate(c);
      }
      for (const text of likely) {
        if (this.closed || generation !== this.applyGeneration) return;
        if (this.staged.has(text)) continue;
        if (await this.cache.passed(this.cfg.ValidateCommand, templateText, text)) {
          await this.stage(text, await writeCandidate(this.cfg.OutputPath, text, 'next'), generation);
          continue;
        }
        let kept: Candidate | null = null;
        await this.cache.validateOnce(this.cfg.ValidateCommand, templateText, text, async () => {
          const candidate = await writeCandidate(this.cfg.OutputPath, text, 'next');
          const v = await validateCandidate(this.cfg.ValidateCommand, candidate, this.cfg.ValidateTimeoutMs).catch((err: unknown) => {
            void discardCandidate(candidate);
            throw err;
          });
          this.counted();
          if (v.ok) kept = candidate;
          else {
            await discardCandidate(candidate);
            this.log.debug({ output: firstLines(v.output) }, 'a possible next file does not pass the validate command (it will be refused if it is ever needed)');
          }
          return v.ok;
        });
        if (kept) await this.stage(text, kept, generation);
      }
    }).catch((err: unknown) => this.log.debug({ err: (err as Error).message }, 'pre-validation stopped'))
      .finally(() => {
        if (generation === this.applyGeneration) this.prevalidating = null;
      });
  }

  /** Keeps a validated candidate for `text`, unless the output closed or moved on meanwhile. */
  private async stage(text: string, candidate: Candidate, generation: number): Promise<void> {
    if (this.closed || generation !== this.applyGeneration || this.staged.has(text)) {
      await discardCandidate(candidate);
      return;
    }
    this.staged.set(text, candidate);
  }

  /** The staged candidate holding exactly `text`, taken out of the stage; null if none. */
  async take(text: string): Promise<Candidate | null> {
    const c = this.staged.get(text);
    if (!c) return null;
    this.staged.delete(text);
    if (await candidateHolds(c, text)) return c;
    await discardCandidate(c);
    return null;
  }

  /** Resolves when background pre-validation has finished. */
  async idle(): Promise<void> {
    while (this.prevalidating) await this.prevalidating;
  }

  /** Background work stops at its next step; staged files go. */
  async close(): Promise<void> {
    this.closed = true;
    const staged = [...this.staged.values()];
    this.staged.clear();
    await Promise.all(staged.map((c) => discardCandidate(c)));
  }
}
