import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { statSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import type { SyslogConfig } from '../config/schema.js';

/** The system's local syslog socket: what `Syslog.Address` names by default. */
export const DEV_LOG = '/dev/log';

const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp'];

/** Why a local syslog socket cannot be used, or null when `path` is a socket. */
export function localSocketProblem(path: string): string | null {
  try {
    return statSync(path).isSocket() ? null : `${path} is not a socket`;
  } catch (err) {
    return `no socket at ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

function facilityCode(name: string): number {
  const local = /^local([0-7])$/.exec(name);
  if (local) return 16 + Number(local[1]);
  const i = FACILITIES.indexOf(name);
  return i >= 0 ? i : 3;
}

/** pino level → syslog severity (the original sent everything at LOG_ERR). */
export function severityOf(level: number): number {
  if (level >= 60) return 2; // fatal → crit
  if (level >= 50) return 3; // error → err
  if (level >= 40) return 4; // warn → warning
  if (level >= 30) return 6; // info → info
  return 7; // debug, trace
}

/** One pino JSON line → a short human message: msg plus the other fields as key=value. */
export function formatLine(line: string): { level: number; text: string } | null {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const skip = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name']);
  const extras = Object.entries(rec)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const text = [String(rec.msg ?? ''), ...extras].join(' ').replace(/[\r\n]+/g, ' ');
  return { level, text };
}

/**
 * A pino destination that forwards to syslog. Remote: udp:// or tcp:// (RFC 3164 framing, one
 * message per datagram/line). Local: a unix socket path such as /dev/log, through util-linux
 * `logger --prio-prefix` because Node cannot open unix datagram sockets.
 */
export class SyslogStream extends Writable {
  private udp: dgram.Socket | null = null;
  private tcp: net.Socket | null = null;
  private child: ChildProcess | null = null;
  private failed = false;
  private readonly facility: number;
  private readonly host = hostname();

  constructor(
    private readonly config: SyslogConfig,
    private readonly onError: (msg: string) => void = () => {},
    /** devLog: where DEV_LOG really is (tests point it at a socket of their own). */
    private readonly opts: { devLog?: string } = {},
  ) {
    super({ decodeStrings: false });
    this.facility = facilityCode(config.Facility);
  }

  private frame(severity: number, text: string): string {
    const pri = this.facility * 8 + severity;
    const d = new Date();
    const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
    const ts = `${month} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
    return `<${pri}>${ts} ${this.host} ${this.config.Tag}[${process.pid}]: ${text}`;
  }

  private giveUp(why: string): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(`syslog disabled: ${why}`);
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failed) return cb();
    for (const line of String(chunk).split('\n')) {
      if (!line) continue;
      const parsed = formatLine(line);
      if (parsed) this.send(severityOf(parsed.level), parsed.text);
    }
    cb();
  }

  private send(severity: number, text: string): void {
    const address = this.config.Address;
    const remote = /^(udp|tcp):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(address);
    if (remote) {
      const [, proto, rawHost, port] = remote as unknown as [string, string, string, string];
      const host = rawHost.replace(/^\[|\]$/g, '');
      const msg = this.frame(severity, text);
      if (proto === 'udp') {
        this.udp ??= dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4').on('error', (e) => this.giveUp(e.message));
        this.udp.unref();
        this.udp.send(msg, Number(port), host);
      } else {
        if (!this.tcp || this.tcp.destroyed) {
          this.tcp = net.connect(Number(port), host).on('error', (e) => {
            this.onError(`syslog TCP: ${e.message}`);
            this.tcp?.destroy();
          });
          this.tcp.unref();
        }
        this.tcp.write(`${msg}\n`);
      }
      return;
    }
    // Local socket path via logger(1), which would drop every message silently if there is no
    // socket: say so once instead (the lines still reach stdout and the log file).
    if (!this.child) {
      const path = address === DEV_LOG ? (this.opts.devLog ?? DEV_LOG) : address;
      const problem = localSocketProblem(path);
      if (problem) return this.giveUp(`${problem}; log lines go to stdout (and -log) only`);
      const child = spawn('logger', ['--prio-prefix', '-t', this.config.Tag, '-u', path, '--socket-errors=off'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.on('error', (e) => this.giveUp(`cannot run logger(1): ${e.message}`));
      child.on('exit', () => {
        this.child = null;
      });
      child.stdin?.on('error', () => {});
      child.unref();
      this.child = child;
    }
    this.child.stdin?.write(`<${this.facility * 8 + severity}>${text}\n`);
  }

  close(): void {
    this.udp?.close();
    this.tcp?.end();
    this.child?.stdin?.end();
  }
}
