/**
 * Commands (ReloadCommand, ValidateCommand, Exec hooks) are forked by a small resident helper
 * process (helper.ts) rather than by the daemon: fork() copies the forking process's page tables,
 * so its cost grows with the daemon's heap (4.5 ms at 47 MB resident, 7.3 ms at 110 MB), and the
 * helper, started while the daemon is still small, stays small. If the helper dies it is started
 * again; if it cannot be started, or keeps dying, the daemon forks commands itself (one warning).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnDirect, type CommandOptions, type CommandProcess } from './command.js';
import { lineReader, type Event, type Request } from './protocol.js';
import { RemoteCommand } from './remote-command.js';

type RunRequest = Extract<Request, { op: 'run' }>;

declare const __REDISHAPPY_VERSION__: string | undefined;

export interface SpawnerLog {
  warn(obj: object, msg: string): void;
}

/** How to start the helper: node flags and the script. */
export interface HelperEntry {
  execArgv: string[];
  script: string;
  cwd?: string;
}

/** The bundle ships the helper as spawn-helper.cjs beside redishappy.cjs; the sources run helper.ts through tsx. */
export function defaultHelperEntry(): HelperEntry {
  // Same young-generation size as the launchers: the helper's heap stays a few MB.
  const flags = ['--max-semi-space-size=1'];
  if (typeof __REDISHAPPY_VERSION__ === 'string') return { execArgv: flags, script: fileURLToPath(new URL('./spawn-helper.cjs', import.meta.url)) };
  // "--import tsx" is looked up from the working directory: the checkout's (commands get their own).
  return { execArgv: [...flags, '--import', 'tsx'], script: fileURLToPath(new URL('./helper.ts', import.meta.url)), cwd: fileURLToPath(new URL('../..', import.meta.url)) };
}

/** Helper deaths within this window that make the daemon stop restarting it. */
const MAX_DEATHS = 3;
const DEATH_WINDOW_MS = 60000;

const stderrLog: SpawnerLog = { warn: (obj, msg) => process.stderr.write(`redishappy: ${msg} ${JSON.stringify(obj)}\n`) };

export interface SpawnerOptions {
  entry?: HelperEntry;
  log?: SpawnerLog;
  /** How long a starting helper has to say it is ready before the daemon forks commands itself. */
  readyTimeoutMs?: number;
  /** How long after a SIGKILL a command's exit may take before the helper is presumed stuck. */
  stuckAfterMs?: number;
  /**
   * Fork commands directly until the first helper is ready, instead of queueing them: the daemon's
   * first reload at start-up must not wait for a Node process to boot (it is small then anyway).
   */
  directUntilReady?: boolean;
}

export class Spawner {
  log: SpawnerLog;
  private helper: ChildProcess | null = null;
  private state: 'idle' | 'starting' | 'ready' | 'direct' = 'idle';
  /** Requests waiting for a starting helper. */
  private queue: Array<{ cmd: RemoteCommand; req: RunRequest }> = [];
  /** Sent to the helper, not yet closed. */
  private sent = new Map<number, RemoteCommand>();
  private nextId = 1;
  private deaths: number[] = [];
  private everReady = false;

  constructor(private readonly opts: SpawnerOptions = {}) {
    this.log = opts.log ?? stderrLog;
  }

  /** The helper's pid while one runs. */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /** True once the daemon forks commands itself. */
  get direct(): boolean {
    return this.state === 'direct';
  }

  /** Starts the helper now (the daemon does at start-up, while it is small); otherwise the first command does. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'starting';
    const entry = this.opts.entry ?? defaultHelperEntry();
    // Its own process group: a Ctrl-C meant for the daemon does not kill the helper under a
    // command; it exits when the daemon closes its stdin (or dies).
    const helper = spawn(process.execPath, [...entry.execArgv, entry.script], { stdio: ['pipe', 'pipe', 'inherit'], detached: true, cwd: entry.cwd });
    this.helper = helper;
    const readyTimer = setTimeout(() => {
      if (this.helper === helper && this.state === 'starting') this.goDirect('the spawn helper did not start in time', helper);
    }, this.opts.readyTimeoutMs ?? 15000);
    readyTimer.unref();
    helper.stdin!.on('error', () => {}); // a dead helper: its 'exit' deals with it
    helper.stdout!.on(
      'data',
      lineReader((line) => {
        if (this.helper !== helper) return;
        let e: Event;
        try {
          e = JSON.parse(line) as Event;
        } catch {
          return; // not ours (nothing else writes there); never worth crashing the daemon for
        }
        if (e.ev === 'ready') {
          clearTimeout(readyTimer);
          this.state = 'ready';
          this.everReady = true;
          for (const q of this.queue.splice(0)) this.send(q.cmd, q.req);
        } else this.sent.get(e.id)?.handle(e);
        if (e.ev === 'close') this.sent.delete(e.id);
        this.updateRef();
      }),
    );
    const gone = (why: object) => {
      clearTimeout(readyTimer);
      if (this.helper !== helper) return;
      this.helper = null;
      if (this.state === 'starting') return this.goDirect('the spawn helper could not be started', null, why);
      this.helperDied(why);
    };
    helper.once('exit', (code, signal) => gone({ code, signal }));
    helper.once('error', (err) => gone({ err: err.message }));
    this.updateRef();
  }

  /** Runs `file args` in its own process group, from the helper when there is one. */
  spawn(file: string, args: readonly string[], opts: CommandOptions): CommandProcess {
    if (this.state === 'direct') return spawnDirect(file, args, opts);
    if (this.state === 'starting' && !this.everReady && this.opts.directUntilReady) return spawnDirect(file, args, opts);
    this.start();
    const cmd = new RemoteCommand(
      this.nextId++,
      (c) => this.release(c),
      () => this.helper?.kill('SIGKILL'),
      this.opts.stuckAfterMs,
    );
    const req: RunRequest = { op: 'run', id: cmd.id, file, args: [...args], env: opts.env ?? process.env, cwd: opts.cwd ?? process.cwd(), input: opts.input, maxOutput: opts.maxOutput };
    if (this.state === 'ready') this.send(cmd, req);
    else this.queue.push({ cmd, req });
    this.updateRef();
    return cmd;
  }

  /** Closes the helper's stdin: it exits (commands still running carry on). */
  close(): void {
    this.state = 'direct';
    this.helper?.stdin?.end();
    this.helper = null;
  }

  private send(cmd: RemoteCommand, req: RunRequest): void {
    this.sent.set(cmd.id, cmd);
    this.write(req);
  }

  private write(r: Request): void {
    this.helper?.stdin?.write(`${JSON.stringify(r)}\n`);
  }

  private release(cmd: RemoteCommand): void {
    if (!this.sent.has(cmd.id)) return;
    this.write({ op: 'release', id: cmd.id });
    // Still running (the caller gave up on it): kept, so that a helper death kills its group.
    if (cmd.exited) this.sent.delete(cmd.id);
    this.updateRef();
  }

  private helperDied(why: object): void {
    const orphans = [...this.sent.values()];
    const killed = orphans.filter((c) => !c.exited).length;
    this.sent.clear();
    for (const cmd of orphans) cmd.helperGone();
    const now = Date.now();
    this.deaths = [...this.deaths.filter((t) => now - t < DEATH_WINDOW_MS), now];
    if (this.deaths.length >= MAX_DEATHS) return this.goDirect(`the spawn helper exited ${MAX_DEATHS} times within ${DEATH_WINDOW_MS / 1000} s`, null, why);
    this.log.warn({ ...why, commandsKilled: killed }, 'the spawn helper exited; starting it again');
    this.state = 'idle';
    this.start();
  }

  /** From now on the daemon forks commands itself; the ones waiting for the helper are forked now. */
  private goDirect(reason: string, helper: ChildProcess | null, why: object = {}): void {
    this.state = 'direct';
    this.helper = null;
    if (helper?.pid !== undefined) helper.kill('SIGKILL');
    this.log.warn({ ...why }, `${reason}; commands are now forked by the daemon itself`);
    for (const q of this.queue.splice(0)) q.cmd.adopt(spawnDirect(q.req.file, q.req.args, { env: q.req.env, cwd: q.req.cwd, input: q.req.input, maxOutput: q.req.maxOutput }));
    for (const cmd of this.sent.values()) cmd.helperGone();
    this.sent.clear();
  }

  /** The helper keeps the daemon (or a test) alive only while a command waits on it. */
  private updateRef(): void {
    const h = this.helper;
    if (!h) return;
    const busy = this.queue.length > 0 || this.sent.size > 0;
    for (const handle of [h, h.stdin as Socket | null, h.stdout as Socket | null]) {
      if (busy) handle?.ref();
      else handle?.unref();
    }
  }
}

let shared: Spawner | undefined;

/** The daemon's spawner, started at once: main() calls this before connecting to the sentinels. */
export function startSpawner(log?: SpawnerLog, opts: Pick<SpawnerOptions, 'directUntilReady'> = {}): Spawner {
  shared ??= new Spawner({ log, ...opts });
  if (log) shared.log = log;
  shared.start();
  return shared;
}

/** Runs a command through the daemon's spawner (started on first use when main() did not). */
export function spawnCommand(file: string, args: readonly string[], opts: CommandOptions): CommandProcess {
  shared ??= new Spawner();
  return shared.spawn(file, args, opts);
}
