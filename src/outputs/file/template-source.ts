import { readFile, stat } from 'node:fs/promises';
import { parseTemplate, type Template } from '../../template/index.js';
import type { TemplateData } from './data.js';

/**
 * The template file and its parsed form. The original re-read and re-parsed it on every render;
 * we re-read only when the file changed (mtime/ctime/size/inode), and a broken edit never replaces
 * a working template: the daemon keeps rendering with the last good one and reports the problem.
 */

interface Fingerprint {
  mtimeMs: number;
  ctimeMs: number;
  size: number;
  ino: number;
}

function sameFile(a: Fingerprint, b: Fingerprint): boolean {
  return a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.ino === b.ino;
}

/** "template /etc/x.cfg:12:5: unexpected EOF" - the engine's error with its location when it has one. */
export function describeTemplateError(err: unknown, path: string): string {
  const e = err as { message?: string; file?: string; line?: number; column?: number };
  const message = e.message ?? String(err);
  if (typeof e.line === 'number' && !message.includes(`:${e.line}`)) {
    return `template ${e.file ?? path}:${e.line}${typeof e.column === 'number' ? `:${e.column}` : ''}: ${message}`;
  }
  return message.includes(path) ? `template ${message}` : `template ${path}: ${message}`;
}

export class TemplateSource {
  private parsed: Template | null = null;
  private source = '';
  private seen: Fingerprint | null = null;
  /** Why the file on disk is not the template in use (null when it is). */
  problem: string | null = null;

  constructor(
    readonly path: string,
    /** Data to try a new template with, so a field typo is caught before real state meets it. */
    private readonly sample: () => TemplateData,
  ) {}

  get text(): string {
    return this.source;
  }

  get template(): Template {
    if (!this.parsed) throw new Error(`template ${this.path} has not been loaded`);
    return this.parsed;
  }

  /** First load: any problem is thrown (the daemon refuses to start with a bad template). */
  async load(): Promise<void> {
    const fp = await this.fingerprint();
    const text = await this.read();
    this.parsed = this.compile(text);
    this.source = text;
    this.seen = fp;
    this.problem = null;
  }

  /**
   * Picks up an edited template. Returns the problem when the edit cannot be used (the previous
   * template stays in use), null otherwise.
   */
  async refresh(): Promise<{ changed: boolean; problem: string | null }> {
    let fp: Fingerprint;
    try {
      fp = await this.fingerprint();
    } catch (err) {
      return { changed: false, problem: this.report(`template ${this.path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); still using the one loaded before`) };
    }
    if (this.seen && sameFile(fp, this.seen)) return { changed: false, problem: this.problem };
    this.seen = fp; // Report a broken edit once per edit, not on every apply.
    try {
      const text = await this.read();
      if (text === this.source && this.parsed) {
        this.problem = null;
        return { changed: false, problem: null };
      }
      this.parsed = this.compile(text);
      this.source = text;
      this.problem = null;
      return { changed: true, problem: null };
    } catch (err) {
      return { changed: false, problem: this.report(`${(err as Error).message}; still using the template loaded before`) };
    }
  }

  private report(problem: string): string {
    this.problem = problem;
    return problem;
  }

  private async fingerprint(): Promise<Fingerprint> {
    const st = await stat(this.path);
    if (!st.isFile()) throw Object.assign(new Error(`${this.path} is not a file`), { code: 'EISDIR' });
    return { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, ino: st.ino };
  }

  private async read(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      throw new Error(`template ${this.path} cannot be read: ${(err as Error).message}`);
    }
  }

  private compile(text: string): Template {
    let t: Template;
    try {
      t = parseTemplate(text, this.path);
    } catch (err) {
      throw new Error(describeTemplateError(err, this.path));
    }
    try {
      t.execute(this.sample());
    } catch (err) {
      throw new Error(`${describeTemplateError(err, this.path)} (while trying the template with sample data)`);
    }
    return t;
  }
}
