import { spawn, type ChildProcess } from 'node:child_process';
import type { Cleanup } from './cleanup.js';

/** Every child still alive when the test process exits gets SIGKILL (last line of defence). */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

const MAX_LINES = 200;

/**
 * A child spawned directly (no daemonizing), its output captured, killed on cleanup.
 * `ready` is polled after each start.
 */
export class Proc implements ManagedProcess {
  private child: ChildProcess | null = null;
  private lines: string[] = [];
  private exitPromise: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly ready: () => Promise<void>,
    cleanup: Cleanup,
  ) {
    cleanup.add(() => this.kill('SIGKILL'));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.lines.join('\n');
  }

  async start(): Promise<void> {
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    const collect = (d: Buffer) => {
      this.lines.push(...d.toString().split('\n').filter(Boolean));
      if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
      child.once('error', (err) => {
        this.lines.push(`spawn error: ${err.message}`);
        live.delete(child);
        resolve();
      });
    });
    try {
      await this.ready();
    } catch (err) {
      throw new Error(`${this.name} did not become ready: ${(err as Error).message}\n--- output ---\n${this.output()}`);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    // A stopped (SIGSTOP) process only acts on SIGKILL or after SIGCONT.
    child.kill('SIGCONT');
    child.kill(signal);
    await this.exitPromise;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 3000);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.start();
  }
}
