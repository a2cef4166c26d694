import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { killProcessGroup, type CommandProcess } from './command.js';
import type { Event } from './protocol.js';

/** Where a command's helper-side timing goes once it has exited. */
export interface CommandTiming {
  /** In the helper, from the request to spawn() returning (the fork itself). */
  spawnMs: number;
  /** In the helper, from the request to the command's exit. */
  runMs: number;
}

/**
 * A command run by the spawner helper, seen from the daemon as a CommandProcess: the helper's
 * events replayed on it. It can also take over a direct child when the helper turns out to be
 * unavailable before the command was sent.
 */
export class RemoteCommand extends EventEmitter implements CommandProcess {
  pid: number | undefined;
  exited = false;
  timing: CommandTiming | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Signals asked for before the helper said which pid the command got. */
  private early: NodeJS.Signals[] = [];
  private direct: CommandProcess | undefined;
  private released = false;
  private closed = false;

  constructor(
    readonly id: number,
    /** Tells the helper the caller no longer reads this command's output. */
    private readonly onRelease: (cmd: RemoteCommand) => void,
    /** The helper did not report the exit of a SIGKILLed command: it is stuck (e.g. stopped). */
    private readonly onStuck: () => void = () => {},
    private readonly stuckAfterMs = 5000,
  ) {
    super();
    const release = (err: Error | null, cb: (err: Error | null) => void) => {
      if (!this.released) {
        this.released = true;
        this.onRelease(this);
      }
      cb(err);
    };
    this.stdout = new Readable({ read() {}, destroy: release });
    this.stderr = new Readable({ read() {}, destroy: release });
  }

  get isReleased(): boolean {
    return this.released;
  }

  killGroup(signal: NodeJS.Signals): void {
    if (this.direct) return this.direct.killGroup(signal);
    // A SIGKILLed group exits at once; if the helper says nothing, the caller (runShell waits for
    // the exit) would wait forever: the helper is then killed, which answers every command it had.
    if (signal === 'SIGKILL' && !this.exited) {
      setTimeout(() => {
        if (!this.exited && !this.direct) this.onStuck();
      }, this.stuckAfterMs).unref();
    }
    // The daemon signals the group itself (a kill is a system call, not a fork); only a signal
    // sent before the pid is known has to wait for it.
    if (this.pid === undefined) this.early.push(signal);
    else killProcessGroup(this.pid, signal);
  }

  /** Replays one event from the helper. */
  handle(e: Event): void {
    switch (e.ev) {
      case 'started':
        this.pid = e.pid;
        this.timing = { spawnMs: e.spawnMs, runMs: NaN };
        for (const s of this.early.splice(0)) killProcessGroup(this.pid, s);
        break;
      case 'out':
      case 'err':
        (e.ev === 'out' ? this.stdout : this.stderr).push(Buffer.from(e.data, 'utf8'));
        break;
      case 'exit':
        this.exited = true;
        if (this.timing) this.timing.runMs = e.runMs;
        this.emit('exit', e.code, e.signal);
        break;
      case 'error':
        this.emit('error', new Error(e.message));
        break;
      case 'close':
        this.close();
        break;
    }
  }

  /**
   * The helper died with this command sent to it. A command still running is an orphan nobody
   * watches: its group is killed and the caller sees a kill (a failure it retries like others).
   */
  helperGone(): void {
    if (!this.exited) {
      killProcessGroup(this.pid, 'SIGKILL');
      this.stderr.push(Buffer.from('redishappy: the spawn helper exited while this command ran; the command was killed\n'));
      this.exited = true;
      this.emit('exit', null, 'SIGKILL');
    }
    this.close();
  }

  /** Runs on a child the daemon forked itself (the helper could not take the command). */
  adopt(child: CommandProcess): void {
    this.direct = child;
    this.pid = child.pid;
    for (const s of this.early.splice(0)) child.killGroup(s);
    child.stdout.on('data', (d: Buffer) => this.stdout.push(d));
    child.stderr.on('data', (d: Buffer) => this.stderr.push(d));
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.emit('exit', code, signal);
    });
    child.on('error', (err) => this.emit('error', err));
    child.on('close', () => this.close());
    // The caller dropping its pipes drops the child's.
    this.stdout.once('close', () => child.stdout.destroy());
    this.stderr.once('close', () => child.stderr.destroy());
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.stdout.destroyed) this.stdout.push(null);
    if (!this.stderr.destroyed) this.stderr.push(null);
    // As a ChildProcess does: 'close' after its output streams have ended.
    setImmediate(() => this.emit('close'));
  }
}
