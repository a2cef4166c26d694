import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Cleanup } from './cleanup.js';
import { recordUnexpectedExit } from './exits.js';

/** Signal a child, or its whole process group when it was started as a group leader. */
function signal(child: ChildProcess, sig: NodeJS.Signals, group: boolean): void {
  try {
    if (group && child.pid) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    // already gone
  }
}

/** Every child still alive when the test process exits gets SIGKILL (last line of defence). */
const live = new Map<ChildProcess, boolean>();
process.on('exit', () => {
  for (const [child, group] of live) {
    signal(child, 'SIGCONT', group);
    signal(child, 'SIGKILL', group);
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
  /** Set when the harness itself kills or stops the child: that exit is not a crash. */
  private exitExpected = false;
  /** Set once the child has answered its readiness check; an exit before that fails `start` itself. */
  private isReady = false;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly ready: () => Promise<void>,
    cleanup: Cleanup,
    /**
     * Start the child in its own process group and signal the whole group: for servers with
     * worker processes (nginx), whose workers would otherwise outlive a SIGKILLed master and keep
     * the test's output pipes, and so the test process, alive.
     */
    private readonly group = false,
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
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: this.group });
    this.child = child;
    this.exitExpected = false;
    this.isReady = false;
    live.set(child, this.group);
    const collect = (d: Buffer) => {
      this.lines.push(...d.toString().split('\n').filter(Boolean));
      if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (!this.exitExpected && this.isReady && this.child === child) recordUnexpectedExit({ name: this.name, code, signal, output: this.output() });
        resolve();
      });
      child.once('error', (err) => {
        this.lines.push(`spawn error: ${err.message}`);
        live.delete(child);
        resolve();
      });
    });
    try {
      // An exit before the child is ready fails the start at once (not when the readiness poll times out).
      let exitedEarly = false;
      const exited = this.exitPromise.then(() => {
        exitedEarly = true;
      });
      await Promise.race([this.ready(), exited]);
      if (exitedEarly) throw new Error(`exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`);
      this.isReady = true;
    } catch (err) {
      throw new Error(`${this.name} did not become ready: ${(err as Error).message}\n--- output ---\n${this.output()}`);
    }
  }

  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.exitExpected = true;
    // A stopped (SIGSTOP) process only acts on SIGKILL or after SIGCONT.
    signal(child, 'SIGCONT', this.group);
    signal(child, sig, this.group);
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
    this.exitExpected = true;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 3000);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.start();
  }
}

/**
 * True while a process (or, for a negative id, a process group) exists. A zombie counts as gone: a
 * killed grandchild may linger as one until init reaps it.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (pid < 0) return true;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Every live descendant of `pid` (children, grandchildren, ...) with its command name, read from
 * /proc: what a process started, including what it did not report itself (HAProxy's workers).
 */
export function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (after[0] === 'Z') continue;
      parent.set(Number(entry), Number(after[1]));
      comm.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    } catch {
      // The process ended while we looked.
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const visit = (p: number) => {
    for (const [child, ppid] of parent) {
      if (ppid !== p) continue;
      out.push({ pid: child, comm: comm.get(child)! });
      visit(child);
    }
  };
  visit(pid);
  return out;
}
